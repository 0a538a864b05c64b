"""Bracketed text in the CLI's own words and in what people typed prints as written: Rich does not
take ``[kafka]`` in an install hint for markup, nor a token's ``--label`` (issue 14, item 12)."""

from __future__ import annotations

import re

import pytest
import typer

from ledger.cli.main import app

pytestmark = pytest.mark.e2e
STYLES = {"bold", "dim", "red", "green", "yellow", "cyan", "bold red", "bold green", "bold cyan"}


def commands(group, path: tuple[str, ...] = ()):
    yield path, group
    if hasattr(group, "commands"):  # a group (typer carries its own click)
        for name, sub in group.commands.items():
            yield from commands(sub, (*path, name))


def screen(result) -> str:
    """A help screen as one line of words: panel borders and wrapping removed."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", result.output).split())


def raw_texts(command) -> list[str]:
    texts = [command.help or "", command.epilog or ""]
    texts += [getattr(p, "help", None) or "" for p in command.params]
    return texts


def test_every_bracketed_word_of_every_help_screen_prints_as_written(cli) -> None:
    root = typer.main.get_command(app)
    checked = 0
    for path, command in commands(root):
        brackets = {m for text in raw_texts(command) for m in re.findall(r"\\?\[([a-z][^\]\[]*)\]", text)} - STYLES
        if not brackets:
            continue
        shown = screen(cli(*path, "--help"))
        for word in brackets:
            assert f"[{word}]" in shown, (path, word)
            checked += 1
    assert checked >= 1  # at least the kafka extra of `kiroku infra`


def test_the_kafka_extra_of_kiroku_infra_keeps_its_brackets(cli) -> None:
    assert "pip install 'kiroku-ledger[kafka]'" in screen(cli("infra", "--help"))


def test_a_token_label_with_markup_is_listed_as_typed(cli) -> None:
    cli("principals", "add", "vendor:acme", "--label", "[red]billing[/] [http]")
    listed = cli("principals", "list").output
    assert "[red]billing[/] [http]" in listed
