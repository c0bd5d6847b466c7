"""Indexing: changes (the plan: what changed, by stat), writer (read, chunk, embed, commit),
lifecycle (``sync``: one run, from settings to swap)."""

from __future__ import annotations

from .changes import Plan, plan
from .lifecycle import check_folder, sync
from .writer import Writer

__all__ = ["Plan", "Writer", "check_folder", "plan", "sync"]
