"""The price table (`prices.toml`, with its source and the date it was read): cost of a call by model and
token kind. A model the table does not know costs 0 and is marked unpriced, never guessed."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from .usage import Usage

PER = 1_000_000  # prices are per million tokens


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_write: float
    cache_read: float


@dataclass(frozen=True)
class PriceTable:
    models: dict[str, Price]
    source: str
    retrieved: str

    def price_of(self, model: str) -> Price | None:
        """The entry with the longest prefix of `model` (so a dated id finds its family's price)."""
        matches = [prefix for prefix in self.models if model.startswith(prefix)]
        return self.models[max(matches, key=len)] if matches else None

    def cost(self, model: str, usage: Usage) -> float | None:
        price = self.price_of(model)
        if price is None:
            return None
        return (usage.input_tokens * price.input + usage.output_tokens * price.output
                + usage.cache_write_tokens * price.cache_write + usage.cache_read_tokens * price.cache_read) / PER


@cache
def price_table() -> PriceTable:
    data = tomllib.loads(resources.files("hyperhive.gateway").joinpath("prices.toml").read_text())
    models = {name: Price(**fields) for name, fields in data["models"].items()}
    return PriceTable(models, str(data["source"]), str(data["retrieved"]))
