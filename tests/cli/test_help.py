"""`--help` of every command lists the environment variables it reads, each one a real,
documented setting, and gives one example of the command itself."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from broadcaster.cli.main import main
from tests.test_docs import CONFIGURATION, rows, settings_in_code


def every_command(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from every_command(sub, (*path, name))


COMMANDS = list(every_command(main))


def test_the_walk_finds_every_command() -> None:
    assert {(), ("serve",), ("db", "backup"), ("db", "restore"), ("partners", "add")} <= set(
        COMMANDS
    )
    assert len(COMMANDS) > 30


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "broadcaster")
def test_help_lists_the_environment_and_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    help_text = result.output
    assert "Environment (see docs/configuration.md):" in help_text, help_text
    environment = help_text.split("Environment (see docs/configuration.md):", 1)[1]
    environment = environment.split("Example:", 1)[0]
    named = re.findall(r"^\s+(BROADCASTER_[A-Z_]+)\s", environment, re.MULTILINE)
    assert named, f"broadcaster {' '.join(path)} --help names no variable"
    assert set(named) <= settings_in_code(), set(named) - settings_in_code()
    assert set(named) <= rows(CONFIGURATION), "every one is documented in configuration.md"
    examples = help_text.split("Example:", 1)[1].strip().splitlines()
    assert len(examples) == 1
    words = [w for w in examples[0].split() if "=" not in w]  # after VAR=value prefixes
    assert words[0] == "broadcaster"
    if path:
        assert words[1 : 1 + len(path)] == list(path), examples[0]
    assert_parses(examples[0])


def assert_parses(example: str) -> None:
    """The example names a real command and only options it has, with their values."""
    args = [w for w in shlex.split(example) if not re.match(r"^[A-Z_]+=", w)][1:]
    command: click.Command = main
    while isinstance(command, click.Group) and args and args[0] in command.commands:
        command = command.commands[args.pop(0)]
    assert not isinstance(command, click.Group), f"{example}: no command"
    parser = command.make_parser(click.Context(command))
    given, extra, _ = parser.parse_args(args)  # NoSuchOption, BadOptionUsage: wrong
    assert extra == [], f"{example}: more arguments than {command.name} takes: {extra}"
    for param in command.params:
        if isinstance(param, click.Argument) and param.required:
            assert given.get(param.name or "") is not None, f"{example}: no {param.name}"
