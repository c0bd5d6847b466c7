"""The vector files' format: the payload first, then a fixed 64-byte trailer.

A main segment's payload is a faiss index as ``faiss.write_index`` writes it, so faiss can
memory-map it in place (``IO_FLAG_MMAP``); a delta's payload is plain arrays. After the
payload come a JSON block (what the segment is: kind, parameters, counts) and the trailer::

    offset  size  field
         0     8  magic      b"SEMSVEC1"
         8     4  version    format version, 1 (little-endian u32, as every integer)
        12     4  reserved   0
        16     8  generation the catalog generation whose vectors the file holds
        24     8  nonce      this file's identity (random)
        32     8  base       a delta: the nonce of the main segment it applies to; a main: 0
        40     8  payload    bytes of payload
        48     8  meta       bytes of JSON
        56    16  checksum   BLAKE2b-128 of everything before the trailer (payload + JSON)
        72     8  magic      b"SEMSVEC1" again (a file cut short, or padded, has no trailer)

A file is written to a temp file, flushed, fsynced and renamed into place, so its stamp
never claims a generation it does not hold. Reading the stamp costs one 80-byte read of
a regular file (a FIFO or a device put in its place is never opened for reading); the
checksum is checked wherever the whole file is read (deltas; mains that ``index`` reuses
or merges; ``info --check``), not when a reader memory-maps a main: loading checks the
cheap things instead (sizes, counts, a few vectors against the catalog's, see
:mod:`.vector_files`). Before schema 3, ``vectors.faiss`` had a header in front of a flat
faiss index: 16 bytes (``SEMSFAI1``, generation) or 48 (``SEMSFAI2``, generation, count,
length, checksum): :func:`legacy_stamp`.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .safety import open_private

MAGIC = b"SEMSVEC1"
VERSION = 1
TRAILER = struct.Struct("<8sIIQQQQQ16s8s")
_LEGACY = {b"SEMSFAI1": 16, b"SEMSFAI2": 48}  # magic -> header size


class DamagedVectorsError(RuntimeError):
    """A vector file that does not hold what it says, or what the catalog holds."""


def open_regular(path: Path) -> int:
    """A read descriptor on ``path`` if it is a regular file (a FIFO must not hang us).

    Raises:
        OSError: it is missing, unreadable, or not a regular file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(22, "not a regular file", str(path))
    return fd


@dataclass(frozen=True)
class Stamp:
    """A vector file's trailer."""

    generation: int
    nonce: int
    base: int
    payload: int
    meta_bytes: int
    checksum: bytes
    size: int

    def meta(self, path: Path) -> dict[str, Any]:
        """The file's JSON block.

        Raises:
            DamagedVectorsError: it is not a JSON object.
        """
        try:
            fd = open_regular(path)
            try:
                raw = os.pread(fd, self.meta_bytes, self.payload)
            finally:
                os.close(fd)
            meta = json.loads(raw)
        except (OSError, ValueError) as exc:
            raise DamagedVectorsError(f"its description is unreadable ({exc})") from None
        if not isinstance(meta, dict):
            raise DamagedVectorsError("its description is not an object")
        return meta


def stamp(path: Path) -> Stamp | None:
    """The trailer of ``path``, or None if it is missing, not a regular file, or not ours."""
    try:
        fd = open_regular(path)
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        raw = os.pread(fd, TRAILER.size, size - TRAILER.size) if size >= TRAILER.size else b""
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(raw) != TRAILER.size:
        return None
    magic, version, _, generation, nonce, base, payload, meta, checksum, end = TRAILER.unpack(raw)
    if magic != MAGIC or end != MAGIC or version != VERSION or payload + meta + TRAILER.size != size:
        return None
    return Stamp(generation, nonce, base, payload, meta, checksum, size)


def verify(path: Path, found: Stamp) -> None:
    """Check the checksum of everything before the trailer (reads the whole file).

    Raises:
        DamagedVectorsError: it does not match (or the file cannot be read).
    """
    digest = hashlib.blake2b(digest_size=16)
    try:
        with open(open_regular(path), "rb") as fh:
            left = found.payload + found.meta_bytes
            while left:
                block = fh.read(min(left, 1 << 22))
                if not block:
                    raise DamagedVectorsError("it is shorter than its trailer says")
                digest.update(block)
                left -= len(block)
    except OSError as exc:
        raise DamagedVectorsError(f"unreadable ({exc.strerror or exc})") from None
    if digest.digest() != found.checksum:
        raise DamagedVectorsError("its checksum does not match its contents")


def write(path: Path, generation: int, payload: Callable[[Callable[[bytes], None]], dict[str, Any]],
          base: int = 0) -> int:
    """Write a vector file atomically; returns its nonce.

    Args:
        payload: called with a ``write(bytes)`` function; writes the payload through it
            and returns the file's description (the JSON block).
    """
    for leftover in path.parent.glob(path.name + ".*.tmp"):  # from a writer that was killed
        leftover.unlink(missing_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    nonce = secrets.randbits(63) or 1
    digest = hashlib.blake2b(digest_size=16)
    written = [0]
    try:
        with open(open_private(tmp, new=True), "wb") as fh:

            def put(block: bytes) -> None:
                fh.write(block)
                digest.update(block)
                written[0] += len(block)

            meta = payload(put)
            size = written[0]
            put(json.dumps(meta, sort_keys=True).encode())
            fh.write(TRAILER.pack(MAGIC, VERSION, 0, generation, nonce, base, size, written[0] - size,
                                  digest.digest(), MAGIC))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a disk that filled up keeps no half-written file
        raise
    return nonce


def legacy_stamp(path: Path) -> tuple[int, int] | None:
    """The generation of a schema 2 ``vectors.faiss``, and where its faiss bytes start; or None."""
    try:
        fd = open_regular(path)
    except OSError:
        return None
    try:
        head = os.pread(fd, 16, 0)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(head) != 16 or head[:8] not in _LEGACY:
        return None
    return int(struct.unpack("<Q", head[8:])[0]), _LEGACY[head[:8]]
