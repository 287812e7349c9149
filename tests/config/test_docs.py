"""docs/config.md's key tables are generated from the models; this fails when they fall behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperhive.config import AgentConfig, HostPolicy
from hyperhive.config.docs import main, reference_rows, regenerate

CONFIG_MD = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def test_generated_tables_are_current() -> None:
    text = CONFIG_MD.read_text(encoding="utf-8")
    assert regenerate(text) == text, "docs/config.md is stale: run python -m hyperhive.config.docs docs/config.md"


@pytest.mark.parametrize("model", [AgentConfig, HostPolicy])
def test_every_key_has_a_meaning(model: type[AgentConfig] | type[HostPolicy]) -> None:
    for key, _type, _default, meaning in reference_rows(model):
        assert meaning, f"{key} has no docstring"


def test_check_mode_fails_on_a_stale_file(short_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = short_tmp / "config.md"
    stale.write_text(CONFIG_MD.read_text(encoding="utf-8").replace("| `restart.policy` |", "| `restart.polcy` |"))
    assert main(["--check", str(stale)]) == 1
    assert capsys.readouterr().err == f"{stale} is stale: run python -m hyperhive.config.docs {stale}\n"
    assert main([str(stale)]) == 0
    assert main(["--check", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == CONFIG_MD.read_text(encoding="utf-8")
