"""Option groups shared by the entry points, generated from the settings table so each is defined once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from hyperhive.config.settings import SETTINGS

F = TypeVar("F", bound=Callable[..., Any])


def setting_options(*names: str) -> Callable[[F], F]:
    """Add `--state-dir`, `--runtime-dir`, … for the named settings (all when none are named)."""
    chosen = [s for s in SETTINGS if not names or s.name in names]

    def decorate(fn: F) -> F:
        for setting in reversed(chosen):
            fn = click.option(
                "--" + setting.name.replace("_", "-"),
                setting.name,
                default=None,
                metavar="VALUE",
                help=f"{setting.help} [env {setting.env}]",
            )(fn)
        return fn

    return decorate
