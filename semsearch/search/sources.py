"""A file or a text as passages with vectors, for ``similar`` and ``similarity``.

An indexed file that is unchanged since it was indexed (same size and mtime) uses the
vectors the index holds: no model work. Any other text file, and any text, is cut into
passages as the index cuts them and embedded now. A source's vector is the unit-length
mean of its passages' vectors, as the index represents a file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import defaults
from ..chunking import chunk_text
from ..corpus import FileEntry, read_document
from ..embedders import Embedder, mean_vector
from ..errors import BadInputError
from ..records import Passage, Skipped
from ..settings import Settings
from ..storage import Catalog

FILE_HINT = "give a text file, or - to read text from stdin"


@dataclass(frozen=True)
class Source:
    """What is compared: its passages (when asked for) and their unit vectors."""

    name: str  # as the user named it: a path, - for stdin, or "text"
    kind: str  # "file" or "text"
    rel: str | None  # a file's path relative to the index root, when it lies inside it
    vectors: np.ndarray  # one unit row per passage
    passages: list[Passage] | None
    from_index: bool

    @property
    def vector(self) -> np.ndarray:
        return mean_vector(self.vectors)


def file_source(
    path: Path,
    embedder: Callable[[], Embedder],
    settings: Settings,
    catalog: Catalog | None = None,
    *,
    passages: bool = False,
    hint: str = FILE_HINT,
) -> Source:
    """The file at ``path``: its stored vectors if the index holds it unchanged, else embedded now.

    Args:
        path: the file (relative to the current folder, or absolute).
        embedder: gives the model, asked only if the file must be embedded.
        settings: how passages are cut (the index's, or the defaults without an index).
        catalog: the index, if there is one.
        passages: also return the passages' line ranges and text.
        hint: what the error for a missing file or folder tells the user to do.

    Raises:
        BadInputError: not a file, unreadable, binary, undecodable, or empty.
    """
    name = str(path)
    try:
        path = Path(path).expanduser()
    except RuntimeError:  # "~name" where no user is called "name": a file name as written
        path = Path(path)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "no such file"
        raise BadInputError(f"{name} is not a file ({what}); {hint}")
    absolute = path.resolve()
    rel = _inside(absolute, catalog)
    record = catalog.file(rel) if catalog is not None and rel is not None else None
    stat = absolute.stat()
    if catalog is not None and rel is not None and record is not None and record.same_stat(stat.st_size,
                                                                                            stat.st_mtime_ns):
        ids, vectors = catalog.file_vectors(rel)
        if ids and len(ids) == len(catalog.passage_ids([rel])):  # all embedded (not while `index` embeds)
            rows = catalog.passages(ids) if passages else {}
            shown = [Passage(rows[i].start_line, rows[i].end_line, rows[i].text) for i in ids] if passages else None
            return Source(name, "file", rel, vectors, shown, True)
    doc = read_document(FileEntry(rel or str(absolute), absolute, stat.st_size, stat.st_mtime_ns))
    if isinstance(doc, Skipped):
        raise BadInputError(f"{name} cannot be compared: {doc.reason}")
    source = text_source(doc.text, embedder(), settings, name=name, passages=passages)
    return Source(name, "file", rel, source.vectors, source.passages, False)


def text_source(text: str, embedder: Embedder, settings: Settings, *, name: str = "text",
                passages: bool = False) -> Source:
    """A text, cut into passages as the index cuts them, and embedded.

    Raises:
        BadInputError: the text is empty (or only blanks).
    """
    tokens = min(settings.chunk_tokens or defaults.CHUNK_TOKENS, embedder.max_tokens)
    chunks = chunk_text(text, embedder.token_spans, tokens, min(settings.overlap, tokens // 2),
                        exact_at_spaces=embedder.exact_at_spaces)
    if not chunks:
        raise BadInputError(f"{_called(name)} is empty; there is nothing to compare")
    vectors = embedder.embed_documents([c.text for c in chunks])
    shown = [Passage(c.start_line, c.end_line, c.text) for c in chunks] if passages else None
    return Source(name, "text", None, vectors, shown, False)


def _called(name: str) -> str:
    return {"text": "the text", "the text": "the text", "-": "the text from stdin"}.get(name, name)


def _inside(absolute: Path, catalog: Catalog | None) -> str | None:
    if catalog is None:
        return None
    try:
        return absolute.relative_to(catalog.root).as_posix()
    except ValueError:
        return None
