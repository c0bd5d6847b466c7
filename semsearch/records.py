"""The records the library returns, and their machine form (``to_dict``).

``to_dict()`` is the machine schema: ``--format json`` prints exactly it, and a
server returns the same. Paths are relative to the indexed folder (``root``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from .settings import Settings


class SkipReason(str, Enum):
    """Why a file is not indexed."""

    BINARY = "binary"
    UNDECODABLE = "not decodable as text"
    SYMLINK = "symbolic link (not followed)"
    BROKEN_LINK = "broken symbolic link"
    LINK_LOOP = "symbolic link to a folder already walked (loop)"
    UNREADABLE = "unreadable"
    UNREADABLE_FOLDER = "unreadable folder"
    TOO_LARGE = "larger than --max-file-size"


@dataclass(frozen=True)
class Skipped:
    """A file the walk or the reader passed over, and why."""

    path: str
    kind: SkipReason
    detail: str = ""  # e.g. the OS's words, or the sizes

    @property
    def reason(self) -> str:
        """One short line: the kind, then the detail in brackets."""
        kind = self.kind.value if isinstance(self.kind, SkipReason) else str(self.kind)
        return f"{kind} ({self.detail})" if self.detail else kind

    @classmethod
    def parse(cls, path: str, reason: str) -> Skipped:
        """The inverse of :attr:`reason` (the catalog stores the line)."""
        for kind in sorted(SkipReason, key=lambda k: -len(k.value)):
            if reason == kind.value:
                return cls(path, kind)
            if reason.startswith(kind.value + " (") and reason.endswith(")"):
                return cls(path, kind, reason[len(kind.value) + 2 : -1])
        return cls(path, SkipReason.UNREADABLE, reason)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "reason": self.reason}


@dataclass(frozen=True)
class Hit:
    """One result: a passage of a file and how well it matches.

    ``score`` is the mode's score (see the README); ``dense`` and ``lexical`` are the raw
    scores behind it, when the query computed them: the cosine similarity of the query's and
    the passage's vectors, and the passage's BM25 for the query's words (0: none of them).
    ``rerank``: the reranker's score, which ordered the results, when the query had one."""

    rank: int
    score: float
    path: str
    start_line: int
    end_line: int
    text: str
    dense: float | None = None
    lexical: float | None = None
    rerank: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.rerank is None:
            del data["rerank"]  # a query without a reranker: the fields it always had
        for key in ("score", "dense", "lexical", "rerank"):
            if data.get(key) is not None:
                data[key] = round(data[key], 6)
        return data


@dataclass(frozen=True)
class ContextPassage:
    """One passage of a context block: what it shows of a file, and where from."""

    number: int  # its [n] in the block, best first
    path: str
    start_line: int
    end_line: int
    score: float  # the best score of the results merged into it
    text: str  # the lines shown (a cut line ends where it was cut)
    merged: int  # how many of the query's results it holds
    from_file: bool  # read from the unchanged file (whole lines, neighbours); else as indexed
    cut: bool  # lines, or the end of a line, left out to fit the budget

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "score": round(self.score, 6)}


@dataclass(frozen=True)
class ContextBlock:
    """A query's best passages as one prompt-ready text, within a token budget."""

    query: str
    text: str  # the block itself: each passage under its citation ``[n] path:start-end``
    tokens: int  # the text's tokens, by the index model's tokenizer
    max_tokens: int
    passages: list[ContextPassage]
    omitted: int  # results (after merging) left out to fit the budget

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "tokens": self.tokens, "max_tokens": self.max_tokens, "omitted": self.omitted,
                "passages": [p.to_dict() for p in self.passages], "text": self.text}


@dataclass(frozen=True)
class Passage:
    """A passage of a compared text or file: its lines (1-based, inclusive) and text."""

    start_line: int
    end_line: int
    text: str


@dataclass(frozen=True)
class PassagePair:
    """A passage of each side, and their cosine similarity."""

    score: float
    a: Passage
    b: Passage

    def to_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 6), "a": asdict(self.a), "b": asdict(self.b)}


@dataclass(frozen=True)
class Compared:
    """One side of a comparison."""

    source: str  # a path as given, - for stdin, or "text" for --text
    kind: str  # "file" or "text"
    passages: int
    from_index: bool  # the index's stored vectors were used (no model work)


@dataclass(frozen=True)
class Similarity:
    """What ``semsearch similarity`` measures: the cosine of two texts' (or files') mean vectors."""

    score: float  # -1..1; 1.0 for the same text
    a: Compared
    b: Compared
    model: str
    pairs: list[PassagePair] = field(default_factory=list)  # best-matching passages, each used once

    def to_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 6), "a": asdict(self.a), "b": asdict(self.b), "model": self.model,
                "pairs": [p.to_dict() for p in self.pairs]}


@dataclass(frozen=True)
class Progress:
    """Reported while indexing: files of this run's work done, passages embedded; and, to
    estimate the rest, bytes of those files read and passages cut from them so far."""

    files_done: int
    files_total: int
    passages: int
    current: str = ""
    bytes_done: int = 0
    bytes_total: int = 0
    passages_cut: int = 0


@dataclass
class IndexReport:
    """What one ``index`` run did."""

    root: Path
    model_id: str
    backend: str
    created: bool = False
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    passages_embedded: int = 0
    passages_reused: int = 0  # stored vectors of the same content, taken instead of embedding again
    files: int = 0
    passages: int = 0
    seconds: float = 0.0
    within: str = ""  # the only folder walked (relative to root, ending in /), or "" for all
    removed_by: str = ""  # the changed filters that left files out (``--include '*.md'``), if any did

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.passages_embedded)  # or a resumed embedding

    def to_dict(self) -> dict[str, Any]:
        data = _model_key(asdict(self))
        data["root"] = str(self.root)
        data["skipped"] = [s.to_dict() for s in self.skipped]
        return data


@dataclass(frozen=True)
class IndexInfo:
    """What ``semsearch info`` reports."""

    root: Path
    index_dir: Path
    settings: Settings
    files: int
    passages: int
    size_bytes: int
    created: float
    updated: float
    stale_new: list[str] = field(default_factory=list)
    stale_changed: list[str] = field(default_factory=list)
    stale_removed: list[str] = field(default_factory=list)
    vector_index: str = ""  # the vector index in use, in words (the setting is in ``settings``)
    calibrated_on: str | None = None  # what the model's hybrid-score calibration was fitted on; None: uncalibrated
    default_floor: float | None = None  # the hybrid mode's default --min-score; None: no floor
    default_floor_standout: float | None = None  # or the nearest file, standing out by this
    unembedded: int = 0  # passages whose text is searchable but whose vector is not made yet

    @property
    def stale(self) -> int:
        return len(self.stale_new) + len(self.stale_changed) + len(self.stale_removed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "index": str(self.index_dir),
            **self.settings.recorded(),
            "files": self.files,
            "passages": self.passages,
            "passages_embedded": self.passages - self.unembedded,
            "size_bytes": self.size_bytes,
            "created": _when(self.created),
            "updated": _when(self.updated),
            "stale": self.stale,
            "stale_new": self.stale_new,
            "stale_changed": self.stale_changed,
            "stale_removed": self.stale_removed,
            "vector_index_in_use": self.vector_index,
            "calibrated": self.calibrated_on is not None,
            "calibrated_on": self.calibrated_on,
            "default_floor": self.default_floor,
            "default_floor_standout": self.default_floor_standout,
        }


@dataclass(frozen=True)
class Scores:
    """The three measures, averaged over queries."""

    ndcg_at_10: float
    recall_at_100: float
    mrr_at_10: float


@dataclass
class ModeResult:
    """One retrieval mode's scores on the dataset, and how long its queries took."""

    mode: str
    scores: Scores
    queries: int
    seconds: float


@dataclass
class EvalReport:
    """What ``semsearch eval`` measured."""

    dataset: str
    split: str
    model_id: str
    backend: str
    documents: int
    index_dir: Path
    index_seconds: float
    index_reused: bool
    passages_embedded: int  # by this run (0 when the cached index was reused)
    results: list[ModeResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**_model_key(asdict(self)), "index_dir": str(self.index_dir)}


def _model_key(data: dict[str, Any]) -> dict[str, Any]:
    """Every machine record calls the model ``model``, as ``info`` and the settings do."""
    return {("model" if k == "model_id" else k): v for k, v in data.items()}


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")
