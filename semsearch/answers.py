"""What a server answers (the HTTP API and the MCP tools alike), as JSON-ready dicts in
the machine schema of ``--format json``: each hit is ``Hit.to_dict()`` (paths relative to
the indexed folder), next to ``root``. Files are named as the index names them; a
file a client names must be an indexed file inside the root (:mod:`semsearch.passages`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import defaults
from .errors import BadInputError
from .live import LiveIndex
from .passages import indexed_file, read_passage
from .records import Hit

MAX_TOP_K = 1000
STALE_LISTED = 50  # stale paths listed per kind in a status; the counts are always whole


def search(live: LiveIndex, query: str, *, top_k: int = defaults.TOP_K, **options: Any) -> dict[str, Any]:
    """The passages that best match ``query``; ``options`` as :meth:`semsearch.Index.query` takes them
    (``mode``, ``min_score``, ``path_glob``, ``per_file``, ``query_prompt``)."""
    _check_top_k(top_k)
    index = live.current()
    hits = index.query(query, top_k=top_k, **options)
    return _results(live, hits, query=query, mode=options.get("mode", defaults.MODE), generation=index.generation)


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
    index = live.current()
    options = {"top_k": top_k, "min_score": min_score, "path_glob": tuple(path_glob)}
    if file is not None:
        rel, _ = indexed_file(index, file)
        hits = index.similar(index.root / rel, **options)  # type: ignore[arg-type]
        return _results(live, hits, file=rel, generation=index.generation)
    hits = index.similar(text=text, **options)  # type: ignore[arg-type]
    return _results(live, hits, generation=index.generation)


def passage(live: LiveIndex, path: str, start_line: int = 1, end_line: int | None = None) -> dict[str, Any]:
    """Lines of an indexed file (bounded; see :func:`semsearch.passages.read_passage`)."""
    return read_passage(live.current(), path, start_line, end_line).to_dict()


def status(live: LiveIndex) -> dict[str, Any]:
    """What ``semsearch info --format json`` says, with the first few stale paths of each
    kind, the committed generation served, and whether this process keeps it fresh."""
    index = live.current()
    data = index.info().to_dict()
    for kind in ("stale_new", "stale_changed", "stale_removed"):
        data[kind] = data[kind][:STALE_LISTED]
    data["generation"] = index.generation
    data["watching"] = live.watching
    return data


def _results(live: LiveIndex, hits: list[Hit], **about: Any) -> dict[str, Any]:
    return {"root": str(live.root), **about, "results": [h.to_dict() for h in hits]}


def _check_top_k(top_k: int) -> None:
    if not 1 <= top_k <= MAX_TOP_K:
        raise BadInputError(f"top_k must be between 1 and {MAX_TOP_K}")
