"""What a server answers (the HTTP API and the MCP tools alike), as JSON-ready dicts in
the machine schema of ``--format json``: each hit has the fields ``semsearch query
--format json`` writes when run from the indexed folder (``path`` and ``relpath``
relative to ``root``). Files are named as the index names them; a
file a client names must be an indexed file inside the root (:mod:`semsearch.passages`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import defaults
from .errors import BadInputError
from .index import Index
from .live import LiveIndex
from .passages import indexed_file, read_passage
from .records import Hit

MAX_TOP_K = 1000
STALE_LISTED = 50  # stale paths listed per kind in a status; the counts are always whole


def search(live: LiveIndex, query: str, *, top_k: int = defaults.TOP_K, **options: Any) -> dict[str, Any]:
    """The passages that best match ``query``; ``options`` as :meth:`semsearch.Index.query` takes them
    (``mode``, ``min_score``, ``path_glob``, ``per_file``, ``query_prompt``)."""
    _check_top_k(top_k)
    with live.reading() as index:
        hits = index.query(query, top_k=top_k, **options)
        return _results(index, hits, query=query, mode=options.get("mode", defaults.MODE))


def context(live: LiveIndex, query: str, *, max_tokens: int = defaults.CONTEXT_TOKENS, top_k: int = defaults.TOP_K,
            **options: Any) -> dict[str, Any]:
    """The best passages for ``query`` as one prompt-ready block with citations, within
    ``max_tokens`` (as ``query --format context``); ``options`` as for :func:`search`."""
    _check_top_k(top_k)
    if max_tokens < 1:
        raise BadInputError("max_tokens must be at least 1")
    with live.reading() as index:
        block = index.context(query, max_tokens=max_tokens, top_k=top_k, **options)
        return {"root": str(index.root), "generation": index.generation, **block.to_dict()}


def similar(
    live: LiveIndex,
    *,
    file: str | None = None,
    text: str | None = None,
    top_k: int = defaults.TOP_K,
    min_score: float | None = None,
    path_glob: Sequence[str] = (),
) -> dict[str, Any]:
    """The indexed files most like the indexed ``file`` (itself left out), or like ``text``."""
    if (file is None) == (text is None):
        raise BadInputError("give either file (an indexed file's path) or text, not both")
    _check_top_k(top_k)
    options = {"top_k": top_k, "min_score": min_score, "path_glob": tuple(path_glob)}
    with live.reading() as index:
        if file is not None:
            rel, _ = indexed_file(index, file)
            hits = index.similar(index.root / rel, **options)  # type: ignore[arg-type]
            return _results(index, hits, file=rel)
        hits = index.similar(text=text, **options)  # type: ignore[arg-type]
        return _results(index, hits)


def passage(live: LiveIndex, path: str, start_line: int = 1, end_line: int | None = None) -> dict[str, Any]:
    """Lines of an indexed file (bounded; see :func:`semsearch.passages.read_passage`)."""
    with live.reading() as index:
        return read_passage(index, path, start_line, end_line).to_dict()


def status(live: LiveIndex) -> dict[str, Any]:
    """What ``semsearch info --format json`` says, with the first few stale paths of each
    kind, the committed generation served, and whether this process keeps it fresh."""
    with live.reading() as index:
        data = index.info().to_dict()
        data["generation"] = index.generation
    for kind in ("stale_new", "stale_changed", "stale_removed"):
        data[kind] = data[kind][:STALE_LISTED]
    data["watching"] = live.watching
    return data


def health(live: LiveIndex) -> dict[str, Any]:
    """That the server is up, the generation it answers from, and whether it watches."""
    with live.reading() as index:
        return {"status": "ok", "root": str(index.root), "generation": index.generation, "watching": live.watching}


def _results(index: Index, hits: list[Hit], **about: Any) -> dict[str, Any]:
    """The answer's fields, then each hit as ``--format json`` writes it (run from the root):
    ``path`` and ``relpath`` relative to ``root``."""
    root = str(index.root)
    return {"root": root, **about, "generation": index.generation,
            "results": [{**h.to_dict(), "root": root, "relpath": h.path} for h in hits]}


def _check_top_k(top_k: int) -> None:
    if not 1 <= top_k <= MAX_TOP_K:
        raise BadInputError(f"top_k must be between 1 and {MAX_TOP_K}")
