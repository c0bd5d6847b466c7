"""Walk a folder and read its text files.

Which files count: every regular file under the root that is not hidden, not
inside a hidden folder (``.git``, ``.semsearch``), not ignored by a ``.gitignore``
or ``.semsearchignore`` (gitignore syntax, at any level), that passes the
``--include``/``--exclude`` globs, and whose *content* decodes as text.
Symbolic links are not followed unless asked (``--follow-symlinks``); when they
are, a link to a folder already walked is skipped, so a link loop cannot trap the walk.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

from .defaults import INDEX_DIR_NAME, MAX_FILE_SIZE
from .ignore import TooLargeError, compile_globs, read_bounded, read_ignore_spec
from .records import Skipped, SkipReason

# Formats that are never prose; skipping them by name saves reading them.
BINARY_SUFFIXES = frozenset(
    ".png .jpg .jpeg .gif .bmp .ico .webp .tif .tiff .pdf .zip .gz .tgz .bz2 .xz .7z .rar"
    " .tar .jar .whl .exe .dll .so .dylib .o .a .class .pyc .pyo .mp3 .mp4 .m4a .wav .flac"
    " .ogg .mov .avi .mkv .woff .woff2 .ttf .otf .eot .sqlite .db .faiss .npy .npz .pkl"
    " .parquet .bin .dat .iso .dmg .psd .xcf".split()
)

SNIFF_BYTES = 8192


@dataclass(frozen=True)
class FileEntry:
    """A candidate file found by the walk: where it is and what ``stat`` said."""

    path: str  # relative to the root, POSIX separators
    abspath: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Document:
    """A text file, decoded."""

    path: str
    text: str
    size: int
    mtime_ns: int
    digest: str


_Specs = list[tuple[str, pathspec.GitIgnoreSpec]]  # (folder, its ignore rules), outermost first


def _ignored(rel: str, specs: _Specs) -> bool:
    # The deepest ignore file that has an opinion wins, as in git.
    for base, spec in reversed(specs):
        result = spec.check_file(rel[len(base) :] if base else rel)
        if result.include is not None:
            return bool(result.include)
    return False


def walk(
    root: Path,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    skipped: list[Skipped] | None = None,
    follow_symlinks: bool = False,
    within: str = "",
) -> Iterator[FileEntry]:
    """Yield the candidate files under ``root`` in a stable (sorted) order.

    Args:
        root: the folder to walk.
        include: if given, only files matching one of these globs are yielded.
        exclude: files matching one of these globs are left out.
        skipped: if given, files passed over for a reason worth telling the user
            (symlink, unreadable folder, known binary format) are appended here.
            Ignored and hidden files are left out silently, as git does.
        follow_symlinks: walk into linked folders and read linked files, even
            outside ``root``; each folder is walked once, whatever links lead to it.
        within: walk only this folder (relative to ``root``, ending in ``/``), still
            honouring the ignore files of the folders above it.
    """
    include_spec, exclude_spec = compile_globs(include, "--include"), compile_globs(exclude, "--exclude")
    note = skipped.append if skipped is not None else (lambda _s: None)
    walked: set[tuple[int, int]] = set()  # (device, inode) of every folder walked
    def visit(directory: Path, rel_dir: str, specs: _Specs) -> Iterator[FileEntry | tuple[Path, str, _Specs]]:
        """One folder's files, and (as a tuple) each subfolder to walk at its place in the order."""
        try:
            st = directory.stat()
            walked.add((st.st_dev, st.st_ino))
        except OSError:
            pass  # reported by scandir below
        spec = read_ignore_spec(directory)
        if spec is not None:
            specs = specs + [(rel_dir, spec)]
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            note(Skipped(rel_dir.rstrip("/") or ".", SkipReason.UNREADABLE_FOLDER, str(exc.strerror or exc)))
            return
        for entry in entries:
            name = entry.name
            rel = rel_dir + name
            if name.startswith(".") or name == INDEX_DIR_NAME:
                continue
            if within and not (rel.startswith(within) or within.startswith(rel + "/")):
                continue  # neither in the folder walked nor on the way to it
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                note(Skipped(rel, SkipReason.UNREADABLE, str(exc.strerror or exc)))
                continue
            if stat.S_ISLNK(st.st_mode):
                if not follow_symlinks:
                    note(Skipped(rel, SkipReason.SYMLINK))
                    continue
                try:
                    st = os.stat(entry.path)
                except OSError as exc:
                    note(Skipped(rel, SkipReason.BROKEN_LINK, str(exc.strerror or exc)))
                    continue
                if stat.S_ISDIR(st.st_mode) and (
                    (st.st_dev, st.st_ino) in walked or os.path.basename(os.path.realpath(entry.path)) == INDEX_DIR_NAME
                ):
                    note(Skipped(rel, SkipReason.LINK_LOOP))
                    continue
            if stat.S_ISDIR(st.st_mode):
                if not _ignored(rel + "/", specs) and not (exclude_spec and exclude_spec.match_file(rel + "/")):
                    yield Path(entry.path), rel + "/", specs
                continue
            if not rel.startswith(within) or not stat.S_ISREG(st.st_mode) or _ignored(rel, specs):
                continue
            if include_spec is not None and not include_spec.match_file(rel):
                continue
            if exclude_spec is not None and exclude_spec.match_file(rel):
                continue
            if os.path.splitext(name)[1].lower() in BINARY_SUFFIXES:
                note(Skipped(rel, SkipReason.BINARY))
                continue
            yield FileEntry(rel, Path(entry.path), st.st_size, st.st_mtime_ns)

    # Depth first with a stack of our own, not recursion: a tree a thousand folders deep
    # must not exhaust Python's recursion limit.
    stack = [visit(root, "", [])]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
        elif isinstance(item, FileEntry):
            yield item
        else:
            stack.append(visit(*item))


def digest_bytes(data: bytes) -> str:
    """Content digest used to tell a touched file from a changed one."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def looks_binary(data: bytes) -> bool:
    """True when a sample of bytes is not text: NUL bytes, or mostly control characters."""
    sample = data[:SNIFF_BYTES]
    if not sample or sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False  # empty, or UTF-16 with a byte-order mark (full of NULs, yet text)
    if b"\x00" in sample:
        return True
    controls = len(sample) - len(sample.translate(None, _CONTROLS))  # counted in C: a byte loop costs
    return controls / len(sample) > 0.10


_CONTROLS = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))  # control bytes, less the text ones


def decode(data: bytes) -> str | None:
    """Decode bytes as text: UTF-8 (with or without BOM), UTF-16 with BOM, else detect.

    Returns None when no encoding fits well enough to call the bytes text.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        return None
    # Short texts often fit several code pages equally well; on a tie, prefer
    # Windows-1252, by far the commonest legacy encoding of notes.
    best = min(matches, key=lambda m: (m.chaos, -m.coherence, "cp1252" not in m.could_be_from_charset))
    return str(best)


def read_file(entry: FileEntry, limit: int = MAX_FILE_SIZE) -> bytes | Skipped:
    """The bytes of one file, at most ``limit`` of them whatever the file does meanwhile
    (grows, becomes a FIFO); :class:`Skipped` if it cannot be read or grew past ``limit``."""
    try:
        return read_bounded(entry.abspath, limit)
    except TooLargeError:
        return Skipped(entry.path, SkipReason.TOO_LARGE, f"grew past {limit / 1e6:.1f} MB while being read")
    except OSError as exc:
        return Skipped(entry.path, SkipReason.UNREADABLE, str(exc.strerror or exc))


def read_document(entry: FileEntry, data: bytes | None = None, limit: int = MAX_FILE_SIZE) -> Document | Skipped:
    """Read and decode one file; never raises for a bad file, returns :class:`Skipped`.

    Args:
        entry: the file, as found by :func:`walk`.
        data: its bytes, if the caller has already read them.
        limit: read at most this many bytes; a larger file is skipped.
    """
    if data is None:
        read = read_file(entry, limit)
        if isinstance(read, Skipped):
            return read
        data = read
    if looks_binary(data):
        return Skipped(entry.path, SkipReason.BINARY)
    text = decode(data)
    if text is None:
        return Skipped(entry.path, SkipReason.UNDECODABLE)
    # Normalise line endings so line numbers and passages agree on every platform.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return Document(entry.path, text, len(data), entry.mtime_ns, digest_bytes(data))
