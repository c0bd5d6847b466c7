"""A change of the remembered filters (``--include``, ``--exclude``, links) that would
drop most of an index is not made on a typo's word: it needs a confirmation (``--yes``,
or an answer at a terminal), and the summary says which filter removed what."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path

from ..errors import BadInputError
from ..settings import Settings
from .changes import Plan

# A filter change that would drop more than this share of the indexed files asks first.
CONFIRM_ABOVE = 0.5

Confirm = Callable[[str], bool]


def describe(new: Settings, old: Settings) -> str:
    """The filter options that changed, as they would be typed (``--include '*.mdx'``)."""
    parts = []
    for name in ("include", "exclude"):
        value = getattr(new, name)
        if value != getattr(old, name):
            parts.append(" ".join(f"--{name} {shlex.quote(g)}" for g in value) if value else f"no --{name}")
    if new.follow_symlinks != old.follow_symlinks:
        parts.append("--follow-symlinks" if new.follow_symlinks else "--no-follow-symlinks")
    return ", ".join(parts)


def check_change(work: Plan, root: Path, new: Settings, old: Settings, confirm: Confirm | None) -> str:
    """What the changed filters are called (for the summary), once it is clear they may
    remove what they would: the indexed files still on disk that they leave out.

    Raises:
        BadInputError: they would remove more than half of the indexed files and
            ``confirm`` (asked the question) did not say yes.
    """
    what = describe(new, old)
    indexed = [p for p, rec in work.known.items() if rec.skipped is None]
    dropped = [p for p in work.removed if work.known[p].skipped is None and os.path.lexists(root / p)]
    if indexed and len(dropped) > CONFIRM_ABOVE * len(indexed):
        question = f"{what} would remove {len(dropped)} of the {len(indexed)} indexed files from the index"
        if confirm is None or not confirm(question + "; go on?"):
            raise BadInputError(f"{question}; nothing was changed: run again with --yes if that is what you "
                                "want (or check the glob)")
    return what if dropped else ""
