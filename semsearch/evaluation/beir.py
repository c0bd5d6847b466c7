"""BEIR-layout datasets: reading them, and naming their documents as files.

A dataset folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``),
``queries.jsonl`` (``_id``, ``text``) and ``qrels/<split>.tsv`` (query id, document
id, graded relevance, after a header line).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from ..errors import BadInputError

# Relevance judgements: query id -> document id -> grade (0: judged not relevant).
Qrels = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class Dataset:
    """A BEIR-layout dataset, read into memory."""

    path: Path
    corpus_digest: str
    corpus: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: dict[str, str]  # the split's judged queries only, in file order
    qrels: dict[str, dict[str, int]]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        raise BadInputError(f"{path} is missing; a BEIR dataset folder holds corpus.jsonl, queries.jsonl and "
                            "qrels/") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"cannot read {path}: {exc}") from exc


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query-id  corpus-id  score`` rows (tab-separated, after a header line)."""
    qrels: dict[str, dict[str, int]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadInputError(f"cannot read relevance judgements {path}: {exc.strerror or exc}; check --split") from None
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split("\t")
        try:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
        except (IndexError, ValueError):
            raise BadInputError(f"{path}:{number} is not `query-id<TAB>corpus-id<TAB>score`") from None
    return qrels


def load_dataset(path: Path, split: str = "test") -> Dataset:
    """Read a BEIR-layout dataset folder: the corpus, and the split's judged queries.

    Raises:
        BadInputError: a file is missing or malformed, or no judged query has text.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        raise BadInputError(f"{path} is not a folder; give a BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/)")
    corpus_file = path / "corpus.jsonl"
    rows = _read_jsonl(corpus_file)
    try:
        corpus = {str(r["_id"]): (_text(r.get("title")), _text(r.get("text"))) for r in rows}
        all_queries = {str(r["_id"]): _text(r["text"]) for r in _read_jsonl(path / "queries.jsonl")}
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise BadInputError(f"{path}: every corpus and query line needs `_id` and `text` ({exc})") from None
    qrels = {q: docs for q, docs in read_qrels(path / "qrels" / f"{split}.tsv").items() if any(docs.values())}
    queries = {q: all_queries[q] for q in all_queries if q in qrels and all_queries[q].strip()}
    if not queries:
        raise BadInputError(f"no query in {path / 'queries.jsonl'} has a judgement in qrels/{split}.tsv")
    digest = hashlib.sha256(corpus_file.read_bytes()).hexdigest()
    return Dataset(path, digest, corpus, queries, {q: qrels[q] for q in queries})


def _text(value: Any) -> str:
    """A title or text field: a string, or absent (null)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"a text field holds {type(value).__name__} {str(value)[:40]!r}")
    return value.encode("utf-8", "replace").decode("utf-8")  # JSON may escape a lone surrogate


# File names are at most 255 bytes; an id whose quoted form is longer is named by its hash.
_MAX_NAME = 200


def doc_filename(doc_id: str) -> str:
    """A document id as a safe file name (never hidden, never a path, never too long);
    :func:`doc_id` reverses it, except for ids too long to be a name (``#`` + a hash),
    which the caller looks up in its corpus."""
    name = quote(doc_id, safe="", errors="surrogatepass")
    if len(name) > _MAX_NAME:
        name = "%23" + hashlib.sha256(doc_id.encode("utf-8", "surrogatepass")).hexdigest()
    return ("%2E" + name[1:] if name.startswith(".") else name) + ".txt"


def doc_id(path: str) -> str:
    """The document id of an indexed file (inverse of :func:`doc_filename`)."""
    return unquote(path.rsplit("/", 1)[-1].removesuffix(".txt"), errors="surrogatepass")


