"""What an ``index`` run has to do, by ``stat`` alone: the difference between a folder
and its catalog's file records. Nothing is read here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..corpus import FileEntry, walk
from ..records import Skipped, SkipReason
from ..storage import FileRecord


@dataclass
class Plan:
    """The difference between a folder and its index."""

    to_read: list[FileEntry]
    unchanged: list[FileEntry]
    removed: list[str]
    too_large: list[FileEntry]
    skipped: list[Skipped]
    known: dict[str, FileRecord]  # the catalog's records it was compared with

    def new(self) -> list[str]:
        """Files to read that the catalog does not know."""
        return [e.path for e in self.to_read if e.path not in self.known]

    def changed(self) -> list[str]:
        """Files to read whose stat changed since they were indexed."""
        return [e.path for e in self.to_read if e.path in self.known]


def plan(
    root: Path,
    known: dict[str, FileRecord],
    include: Sequence[str],
    exclude: Sequence[str],
    max_file_size: int,
    follow_symlinks: bool = False,
    within: str = "",
) -> Plan:
    """Compare the folder with the catalog's file records without reading any file;
    with ``within`` (a folder relative to ``root``, ending in ``/``), only that folder's."""
    skipped: list[Skipped] = []
    to_read, unchanged, too_large = [], [], []
    seen: set[str] = set()
    for entry in walk(root, include, exclude, skipped, follow_symlinks, within):
        seen.add(entry.path)
        rec = known.get(entry.path)
        same_stat = rec is not None and rec.same_stat(entry.size, entry.mtime_ns)
        # A file skipped as too large is looked at again if the limit was raised.
        retry = (rec is not None and (rec.skipped or "").startswith(SkipReason.TOO_LARGE.value)
                 and entry.size <= max_file_size)
        if same_stat and not retry:
            unchanged.append(entry)
        elif entry.size > max_file_size:
            too_large.append(entry)
        else:
            to_read.append(entry)
    removed = sorted(p for p in known if p not in seen and p.startswith(within))
    return Plan(to_read, unchanged, removed, too_large, skipped, known)


def too_large(entry: FileEntry, limit: int) -> Skipped:
    """Why ``entry`` is skipped: its size against the limit."""
    return Skipped(entry.path, SkipReason.TOO_LARGE, f"{entry.size / 1e6:.1f} MB > {limit / 1e6:.1f} MB")
