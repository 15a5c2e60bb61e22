"""Every subcommand explains itself: `pipeport COMMAND --help` exits 0 and describes the command."""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = {
    "train": "config",
    "export": "parity",
    "serve": "gunicorn",
    "predict": "--input",
    "parity": "runtime",
}


def test_top_level_help_lists_every_subcommand() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pipeport", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize(("command", "phrase"), COMMANDS.items())
def test_subcommand_help_describes_it(command: str, phrase: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pipeport", command, "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert f"usage: pipeport {command}" in result.stdout
    assert phrase in result.stdout


def test_unknown_subcommand_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pipeport", "deploy"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
