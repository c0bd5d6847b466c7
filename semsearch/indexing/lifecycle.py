"""Bring an index up to date with its folder: the lifecycle of one ``index`` run.

Settings are resolved once (flag > environment > the index's record > default); a
first run builds the index in place, an update applies the plan to the live index,
and ``--rebuild`` builds a new index beside the live one and swaps it in when done
(the steps are in :mod:`.steps`). Checks, locks and clean-up are here.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from .. import defaults
from ..embedders import EmbedderFactory, check_backend
from ..errors import BadInputError, SemsearchError
from ..ignore import compile_globs
from ..records import IndexReport
from ..settings import resolve
from ..storage import (
    LocalStore,
    building_dir,
    check_index_location,
    check_vector_index,
    damaged_catalog_is_reported,
    disk_full_is_reported,
    finish_swap,
    index_state,
    swap_dir,
    upgrade,
    writer_lock,
)
from .filters import Confirm
from .rebuild import check_replaceable, discard_leftover
from .steps import Run
from .writer import ProgressCallback


def check_folder(root: Path) -> Path:
    """The folder to index, resolved; a clear error if it is not one."""
    root = Path(root).expanduser()
    if not root.exists():
        raise BadInputError(f"{root} does not exist; give the folder of text files to index")
    if not root.is_dir():
        raise BadInputError(f"{root} is a file, not a folder; give the folder that holds it")
    return root.resolve()


def sync(
    root: Path | str,
    *,
    within: Path | str | None = None,
    rebuild: bool = False,
    on_progress: ProgressCallback | None = None,
    embedder_factory: EmbedderFactory | None = None,
    confirm: Confirm | None = None,
    **flags: Any,
) -> IndexReport:
    """Create or update the index of ``root`` in ``root/.semsearch``.

    Args:
        root: the folder of text files.
        within: update only this folder under ``root`` (absolute, or relative to
            ``root``): only it is walked, and only its files can be removed. The
            index must exist.
        rebuild: build a fresh index from the files and swap it in when complete.
        on_progress: called as files are read and passages embedded.
        embedder_factory: makes the embedder from the resolved model (tests).
        confirm: asked (with a question) before a change of the remembered filters drops
            more than half of the indexed files; without it such a change is refused.
        flags: settings by name (:class:`semsearch.settings.Settings`: ``model``,
            ``backend``, ``chunk_tokens``, ``overlap``, ``include``, ``exclude``,
            ``follow_symlinks``, ``vector_index``, ``batch_size``, ``device``, ``max_file_size``); None
            or absent means the environment's, else the index's own, else the default.

    Returns:
        What was added, updated, removed and skipped, and how long it took.

    Raises:
        BadInputError, NoTextFilesError, SettingsMismatchError, CorruptIndexError,
        ModelUnavailableError, IndexLockedError, UnsafeFolderError.
    """
    started = time.perf_counter()
    root = check_folder(Path(root))
    _check_flags(flags)
    index_dir = root / defaults.INDEX_DIR_NAME
    folder = _folder_within(root, within, rebuild, index_dir)
    check_index_location(index_dir, building_dir(root), swap_dir(index_dir))  # never through a link, nor into another's
    finish_swap(index_dir, building_dir(root))  # a swap without renameat2 that a kill interrupted
    if index_state(index_dir) != "absent":
        # A corrupt or foreign folder is reported, and left as it is; --rebuild replaces
        # only a folder that is recognisably semsearch's, made by this version or an older one.
        if rebuild:
            check_replaceable(index_dir)
        else:
            LocalStore.open(index_dir).close()
    run = Run(root, flags, on_progress, embedder_factory, started, folder, confirm)
    with disk_full_is_reported(root), writer_lock(index_dir), damaged_catalog_is_reported(index_dir):
        state = index_state(index_dir)  # looked at again: another writer may have just finished
        if not rebuild:
            discard_leftover(building_dir(root))  # the old index a swap left; a rebuild in progress stays
        try:
            if rebuild or (state == "absent" and not folder):
                return run.build(index_dir, replacing=state != "absent")
            upgrade(index_dir, building_dir(root))  # an older semsearch's index, in this one's format
            with LocalStore.open(index_dir) as store:
                return run.update(store)
        except BaseException:
            if state == "absent" and _nothing_committed(index_dir):
                shutil.rmtree(index_dir, ignore_errors=True)  # leave no empty index behind a failed first run
            raise


def _folder_within(root: Path, within: Path | str | None, rebuild: bool, index_dir: Path) -> str:
    """``within`` as a folder relative to ``root`` ending in ``/`` ("" for the whole of it)."""
    if within is None:
        return ""
    folder = check_folder(root / within)
    if not folder.is_relative_to(root):
        raise BadInputError(f"{folder} is not inside {root}; give a folder under the indexed one")
    rel = folder.relative_to(root).as_posix()
    if rel == ".":
        return ""
    if rebuild:
        raise BadInputError(f"--rebuild remakes the whole index of {root}: run `semsearch index {root} --rebuild`")
    if index_state(index_dir) != "present":
        raise BadInputError(f"no index in {root} to update {rel}/ in; run `semsearch index {root}` first")
    return rel + "/"


def _check_flags(flags: dict[str, Any]) -> None:
    if flags.get("batch_size") is not None and flags["batch_size"] < 1:
        raise BadInputError("--batch-size must be at least 1")
    if flags.get("max_file_size") is not None and flags["max_file_size"] < 1:
        raise BadInputError("--max-file-size must be at least 1 byte")
    if flags.get("backend") is not None:
        check_backend(flags["backend"])
    for option in ("include", "exclude"):  # before a bad glob could be remembered
        compile_globs(flags.get(option) or (), f"--{option}")
    # Out of range whatever the model: an error at once, before the index is compared with
    # them (which would advise a rebuild) or a rebuild quietly uses the default instead.
    if flags.get("chunk_tokens") is not None and flags["chunk_tokens"] < 16:
        raise BadInputError(f"--chunk-tokens {flags['chunk_tokens']} is too small; give 16 or more (the default is "
                            f"{defaults.CHUNK_TOKENS}, capped by the model's window)")
    if flags.get("overlap") is not None and flags["overlap"] < 0:
        raise BadInputError(f"--overlap {flags['overlap']} is negative; give 0 or more (the default is "
                            f"{defaults.OVERLAP_TOKENS})")
    check_vector_index(resolve({"vector_index": flags.get("vector_index")}).vector_index)


def _nothing_committed(index_dir: Path) -> bool:
    if index_state(index_dir) != "present":
        return True
    try:
        with LocalStore.open(index_dir) as store:
            return store.catalog.count_files() == 0
    except SemsearchError:
        return False
