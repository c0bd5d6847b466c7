"""The vector files' format: the payload first, then a fixed 64-byte trailer.

A main segment's payload is a faiss index as ``faiss.write_index`` writes it, so faiss can
memory-map it in place (``IO_FLAG_MMAP``); a delta's payload is plain arrays. After the
payload come a JSON block (what the segment is: kind, parameters, counts) and the trailer::

    offset  size  field
         0     8  magic      b"SEMSVEC1"
         8     4  version    format version, 1 (little-endian u32, as every field)
        12     4  checksum   CRC-32 of everything before the trailer (payload + JSON)
        16     8  generation the catalog generation whose passages the file holds
        24     8  nonce      this file's identity (random)
        32     8  base       a delta: the nonce of the main segment it applies to; a main: 0
        40     8  payload    bytes of payload
        48     8  meta       bytes of JSON
        56     8  reserved   0

A file is written to a temp file, flushed, fsynced and renamed into place, so its stamp
never claims a generation it does not hold. Reading the stamp costs one 64-byte read;
the checksum is checked where the whole file is read anyway (deltas, and mains that a
writer loads), not when a reader memory-maps a main. Schema 2's ``vectors.faiss`` had a
16-byte header (``SEMSFAI1``, generation) in front of a flat faiss index: :func:`legacy_stamp`.
"""

from __future__ import annotations

import json
import os
import secrets
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .safety import open_private

MAGIC = b"SEMSVEC1"
VERSION = 1
TRAILER = struct.Struct("<8sIIQQQQQQ")
assert TRAILER.size == 64
_LEGACY_MAGIC = b"SEMSFAI1"


class DamagedFileError(Exception):
    """A vector file that is not whole (wrong size or checksum, unreadable)."""


@dataclass(frozen=True)
class Stamp:
    """A vector file's trailer."""

    generation: int
    nonce: int
    base: int
    payload: int
    meta_bytes: int
    checksum: int
    size: int

    def meta(self, path: Path) -> dict[str, Any]:
        """The file's JSON block."""
        with open(path, "rb") as fh:
            fh.seek(self.payload)
            raw = fh.read(self.meta_bytes)
        try:
            meta = json.loads(raw)
        except ValueError as exc:
            raise DamagedFileError(f"its description is unreadable ({exc})") from None
        if not isinstance(meta, dict):
            raise DamagedFileError("its description is not an object")
        return meta


def stamp(path: Path) -> Stamp | None:
    """The trailer of ``path``, or None if it is missing, too short, or not ours."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size < TRAILER.size:
                return None
            fh.seek(size - TRAILER.size)
            raw = fh.read(TRAILER.size)
    except OSError:
        return None
    magic, version, checksum, generation, nonce, base, payload, meta, _ = TRAILER.unpack(raw)
    if magic != MAGIC or version != VERSION or payload + meta + TRAILER.size != size:
        return None
    return Stamp(generation, nonce, base, payload, meta, checksum, size)


def verify(path: Path, found: Stamp) -> None:
    """Check the checksum of everything before the trailer.

    Raises:
        DamagedFileError: it does not match (or the file cannot be read).
    """
    crc = 0
    try:
        with open(path, "rb") as fh:
            left = found.payload + found.meta_bytes
            while left:
                block = fh.read(min(left, 1 << 22))
                if not block:
                    raise DamagedFileError("it is shorter than its trailer says")
                crc = zlib.crc32(block, crc)
                left -= len(block)
    except OSError as exc:
        raise DamagedFileError(str(exc)) from None
    if crc != found.checksum:
        raise DamagedFileError("its checksum does not match")


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
    state = {"crc": 0, "size": 0}
    with open(open_private(tmp, new=True), "wb") as fh:

        def put(block: bytes) -> None:
            fh.write(block)
            state["crc"] = zlib.crc32(block, state["crc"])
            state["size"] += len(block)

        meta = payload(put)
        size = state["size"]
        put(json.dumps(meta, sort_keys=True).encode())
        fh.write(TRAILER.pack(MAGIC, VERSION, state["crc"], generation, nonce, base, size, state["size"] - size, 0))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return nonce


def legacy_stamp(path: Path) -> int | None:
    """The generation of a schema 2 ``vectors.faiss`` (16-byte header), or None."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return None
    if len(head) != 16 or head[:8] != _LEGACY_MAGIC:
        return None
    return int(struct.unpack("<Q", head[8:])[0])
