"""The server client's option whitelist agrees with ``semsearch query``'s own options.

:mod:`semsearch.cli.remote` reads ``query``'s command line without click (so it loads
nothing heavy). Each option it knows must be an option of ``query`` of the same kind (a
flag, or one that takes a value), and every other option ``query`` has must make it step
aside for the local path: an option added to ``query`` and forgotten here would otherwise
be read as a query word, and the server would answer a different question.
"""

from __future__ import annotations

from typing import Any

import pytest
import typer.main

from semsearch.cli import remote


def _query_options() -> dict[str, Any]:
    """``query``'s options by every name they answer to (Typer's own copy of click's
    Option objects: ``opts``, ``secondary_opts``, ``is_flag``)."""
    from semsearch.cli import query  # noqa: F401 - registers the command
    from semsearch.cli.app import app

    command: Any = typer.main.get_command(app)
    options = [p for p in command.commands["query"].params if p.param_type_name == "option"]
    return {name: option for option in options for name in (*option.opts, *option.secondary_opts)}


def test_every_option_the_client_reads_is_a_query_option_of_the_same_kind() -> None:
    options = _query_options()
    for name in remote._VALUED:
        assert name in options, f"{name} is not an option of query"
        assert not options[name].is_flag, f"{name} takes no value in query"
    for name in remote._FLAGS:
        assert name in options, f"{name} is not an option of query"
        assert options[name].is_flag, f"{name} takes a value in query"


@pytest.mark.parametrize("name", sorted(set(_query_options()) - set(remote._VALUED) - set(remote._FLAGS)))
def test_every_other_query_option_is_left_to_the_local_path(name: str) -> None:
    option = _query_options()[name]
    argv = ["query", name, "words"] if option.is_flag else ["query", name, "value", "words"]
    with pytest.raises(remote._DeclinedError):
        remote.parse(argv)
    if name.startswith("--") and not option.is_flag:
        with pytest.raises(remote._DeclinedError):
            remote.parse(["query", f"{name}=value", "words"])


def test_the_options_it_reads_are_read_as_click_would() -> None:
    opts = remote.parse(["query", "-k", "3", "--path=a/*.md", "--all", "--mode", "lexical", "boiler", "service"])
    assert (opts["top_k"], opts["path"], opts["all"], opts["mode"]) == (3, ["a/*.md"], True, "lexical")
    assert opts["query"] == "boiler service"
