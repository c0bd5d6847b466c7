"""Paths as the command line shows and reads them, like ``git grep`` and ``rg``.

The library (and any server) speaks in paths relative to the index root. On the command
line they are relative to the current folder instead, so ``--format paths | xargs wc -l``
works from anywhere: shown relative to the current folder when the index is in it, above
it or below it, absolute otherwise (or with ``--absolute``). ``--path`` globs are read the
same way, and from a subfolder of the indexed folder a search covers that subfolder unless
``--all`` is given.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from ..records import Hit

log = logging.getLogger("semsearch.cli")


@dataclass(frozen=True)
class PathView:
    """How one command shows and reads paths of the index at ``root``.

    Args:
        root: the indexed folder (resolved).
        cwd: the current folder (resolved).
        absolute: show absolute paths.
        scope: the root-relative folder searched by default (``garden/``), or "" for all.
    """

    root: Path
    cwd: Path
    absolute: bool = False
    scope: str = ""

    @classmethod
    def of(cls, root: Path, *, absolute: bool = False, whole: bool = False, cwd: Path | None = None) -> PathView:
        """The view from ``cwd`` (default: the current folder) of the index at ``root``;
        ``whole`` searches the whole index even from a subfolder of it."""
        root = Path(root).resolve()
        cwd = (cwd or Path.cwd()).resolve()
        inside = cwd != root and cwd.is_relative_to(root)
        scope = cwd.relative_to(root).as_posix() + "/" if inside and not whole else ""
        return cls(root, cwd, absolute or not _related(root, cwd), scope)

    def show(self, rel: str) -> str:
        """A root-relative path as the user sees it."""
        target = os.path.join(self.root, rel)
        return target if self.absolute else os.path.relpath(target, self.cwd)

    def shown(self, hits: Sequence[Hit]) -> list[Hit]:
        """The hits with their paths as shown (for renderers that print ``hit.path``)."""
        return [replace(h, path=self.show(h.path)) for h in hits]

    def record(self, hit: Hit) -> dict[str, Any]:
        """A hit's machine form for the command line: ``path`` as shown, plus ``root`` and
        ``relpath`` (relative to ``root``, as the library and a server report it)."""
        return {**hit.to_dict(), "path": self.show(hit.path), "root": str(self.root), "relpath": hit.path}

    def globs(self, patterns: Sequence[str]) -> list[str]:
        """``--path`` globs as the library reads them (relative to the root), with the default scope.

        A glob with a slash (``pests/*``, ``../kitchen/*``) or ``.``/``..`` names a place,
        relative to the current folder (to the root when the current folder is not in or
        above it), and is taken as given. A glob without one (``*.md``) matches a name at
        any depth, inside the default scope.

        Raises:
            BadInputError: a glob names a place outside the index.
        """
        if patterns:
            from ..ignore import compile_globs  # pathspec, loaded only when there are globs

            compile_globs(patterns, "--path")  # a glob written wrong is an error as written, not once rewritten
        out = []
        for pattern in (p.strip() for p in patterns):
            if not pattern:
                continue
            negate = "!" if pattern.startswith("!") else ""
            body = pattern[len(negate):]
            if _anchored(body):
                out.append(negate + self._from_root(body, pattern))
            elif self.scope:
                out.append(f"{negate}/{self.scope}**/{body}")
            else:
                out.append(pattern)
        if not any(not p.startswith("!") for p in out) and self.scope:
            out.insert(0, f"/{self.scope}")
        return out

    def _from_root(self, body: str, pattern: str) -> str:
        folder = body.endswith("/")
        base = self.cwd if _related(self.root, self.cwd) else self.root
        full = os.path.normpath(os.path.join(base, body))
        rel = Path(os.path.relpath(full, self.root)).as_posix()
        if rel == ".." or rel.startswith("../"):
            raise BadInputError(f"--path {pattern!r} is outside the index at {self.root}; give a glob under it "
                                "(relative to the current folder)")
        if rel == ".":
            return "**"
        return "/" + rel + ("/" if folder else "")

    def drop_deleted(self, hits: list[Hit], told: set[str]) -> list[Hit]:
        """The hits whose file still exists, ranked again; a file deleted since it was
        indexed is told once (``told`` remembers which) and left out."""
        kept: list[Hit] = []
        for hit in hits:
            if os.path.lexists(os.path.join(self.root, hit.path)):
                kept.append(replace(hit, rank=len(kept) + 1))
            elif hit.path not in told:
                told.add(hit.path)
                log.warning("%s was deleted since it was indexed; left out (run `semsearch index %s` to update)",
                            self.show(hit.path), self.show("."))
        return kept


def _related(root: Path, cwd: Path) -> bool:
    """Whether paths are best shown relative: the index is at, above or below ``cwd``."""
    return cwd.is_relative_to(root) or root.is_relative_to(cwd)


def _anchored(body: str) -> bool:
    core = body.rstrip("/")
    return "/" in core or core in (".", "..", "")

