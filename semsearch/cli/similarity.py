"""``semsearch similarity A B``: how alike two files or texts are."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from ..embedders import Embedder, load, resolve_model
from ..errors import BadInputError
from ..render import Format, choose_format, stdout_console
from ..render.similarity import show_similarity
from ..search import similarity as compare
from ..settings import Settings, resolve
from .app import app, errors_to_exit_codes
from .options import BackendOpt, DeviceOpt

TEXT_FORMATS = (Format.table, Format.tsv, Format.json, Format.jsonl)


@app.command()
def similarity(
    files: Annotated[list[str] | None, typer.Argument(
        help="Files to compare; - reads a text from stdin. Texts themselves go in --text.", show_default=False)] = None,
    texts: Annotated[list[str] | None, typer.Option(
        "--text", "-t", help="A text to compare (repeatable); files come first, then texts.",
        show_default=False)] = None,
    passages: Annotated[bool, typer.Option("--passages", help="Also show the best-matching passage pairs.")] = False,
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="How many passage pairs --passages shows.", min=1)] = 5,
    index_path: Annotated[Path | None, typer.Option(
        "--index", "-i", envvar="SEMSEARCH_INDEX", show_default=False,
        help="Use this index's model and chunking, and its stored vectors for the files it holds unchanged "
        "(default: no index; the model below).")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", "-m", show_default=False, help="The model, without an index (default all-MiniLM-L6-v2); with "
        "--index, a guard: fail unless the index was built with it. [env: SEMSEARCH_MODEL]")] = None,
    backend: BackendOpt = None,
    device: DeviceOpt = None,
    fmt: Annotated[Format | None, typer.Option(
        "--format", "-f", case_sensitive=False, show_default=False,
        help="json or jsonl: the whole record; tsv (or table, on a terminal): the score, then the pairs.")] = None,
) -> None:
    """How alike two files or texts are: the cosine similarity of their vectors (-1..1, 1 for the same text).

    Exactly two things: `similarity a.md b.md`, `similarity a.md --text "some words"`,
    `similarity --text "one" --text "two"`, `cat a.md | similarity - b.md`. A long file counts as the
    mean of its passages' vectors, as in `similar`. Without --index the default model runs on
    everything; with --index the index's model is used, and the files it holds unchanged use their
    stored vectors.
    """
    with errors_to_exit_codes():
        sides = _sides(files or [], texts or [])
        out = stdout_console()
        chosen = choose_format(fmt, out)
        if chosen not in TEXT_FORMATS:
            raise BadInputError(f"similarity prints a number; --format json or jsonl for a record, not {chosen.value}")
        names = ["-" if f == "-" else None for f in files or []] + [None] * len(texts or [])
        pairs = top_k if passages else 0
        if index_path is not None:
            if backend is not None:
                raise BadInputError("--backend chooses how the model runs without an index; with --index, the "
                                    "index's own backend is used: drop --backend")
            from ..index import Index

            with Index(index_path, model=model, device=device) as idx:
                result = idx.similarity(sides[0], sides[1], pairs=pairs, names=names)
        else:
            settings = resolve({"model": model, "backend": backend, "device": device})
            result = compare(sides[0], sides[1], _embedder(settings), settings, pairs=pairs, names=names)
        show_similarity(result, chosen, out)


def _sides(files: list[str], texts: list[str]) -> list[Path | str]:
    """Files as Paths (- as the text read from stdin), then texts: exactly two."""
    if len(files) + len(texts) != 2:
        raise BadInputError(f"give exactly two things to compare (files, - for stdin, or --text TEXT); "
                            f"got {len(files) + len(texts)}")
    if files.count("-") > 1:
        raise BadInputError("only one side can be read from stdin (-)")
    return [sys.stdin.read() if f == "-" else Path(f) for f in files] + list(texts)


def _embedder(settings: Settings) -> Callable[[], Embedder]:
    """The model the settings name, loaded on first need, once."""
    made: list[Embedder] = []

    def get() -> Embedder:
        if not made:
            made.append(load(resolve_model(settings.model), settings.backend, device=settings.device))
        return made[0]

    return get
