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
    "replay": "--against",
    "diff": "--max-label-changes",
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


def test_each_command_is_registered_by_the_stage_the_cli_builds_alone_for_it() -> None:
    """`pipeport COMMAND` builds only _STAGE_OF_COMMAND[COMMAND]'s parser (cold start), so that
    map must name every command the stages register, and the right stage."""
    from pipeport import cli

    def commands(parser) -> set[str]:
        (sub,) = [a for a in parser._actions if a.dest == "command"]
        return set(sub.choices)

    everything = commands(cli.build_parser())
    assert set(cli._STAGE_OF_COMMAND) == everything
    for command, stage in cli._STAGE_OF_COMMAND.items():
        assert command in commands(cli.build_parser((stage,)))
