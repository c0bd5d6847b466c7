"""The rerank stage: a cross-encoder the user has re-scores the candidates (``--rerank MODEL``).

A cross-encoder reads the query and a passage together, so it judges a match better than
the vectors alone, but it must read every candidate anew for every query: it re-orders the
candidates the retrievers found, before they are grouped per file. None ships with
semsearch (nothing is downloaded): any local sentence-transformers ``CrossEncoder`` folder
works. Its score is its own (for most, a 0..1 estimate of relevance): a hit keeps the
mode's score and carries the reranker's beside it, and the default floor does not apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from ..storage import PassageRecord


class CrossEncoderReranker:
    """A local sentence-transformers cross-encoder as a :class:`~.pipeline.Reranker`."""

    def __init__(self, model: Any, name: str) -> None:
        self._model = model
        self.name = name

    @classmethod
    def load(cls, path: Path | str, device: str | None = None) -> CrossEncoderReranker:
        """The cross-encoder saved in the folder ``path``, loaded without any download.

        Raises:
            BadInputError: no such folder, or it holds no model a CrossEncoder can load.
        """
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise BadInputError(f"--rerank {path}: no such folder; give the folder of a local "
                                "sentence-transformers CrossEncoder (none ships with semsearch)")
        try:
            from sentence_transformers import CrossEncoder

            model = CrossEncoder(str(folder), device=device, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any failure to load is a bad model folder, told in one line
            why = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise BadInputError(f"--rerank {path}: not a CrossEncoder model folder ({why}); give the folder "
                                "a sentence-transformers CrossEncoder was saved to") from None
        return cls(model, str(path))

    def rerank(self, query: str, passages: Sequence[PassageRecord]) -> list[tuple[int, float]]:
        """The passages re-scored by the cross-encoder, best first, as (passage id, its score)."""
        if not passages:
            return []
        scores = self._model.predict([(query, p.text) for p in passages], show_progress_bar=False)
        ranked = [(p.id, float(s)) for p, s in zip(passages, scores, strict=True)]
        return sorted(ranked, key=lambda item: (-item[1], item[0]))
