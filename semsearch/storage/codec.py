"""How the catalog stores a vector: int8 codes with one scale per vector.

A passage's unit vector ``v`` is kept as ``s = max|v| / 127`` (float32) followed by
``round(v / s)`` (one int8 per dimension): 4 + d bytes, a quarter of float32, with a
cosine to the original above 0.9999 for the model's vectors. Decoding renormalises, so
inner products of decoded vectors are cosines. Schema 2 catalogs stored plain float32;
they are still read (see :data:`FLOAT32`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

INT8 = "int8"
FLOAT32 = "float32"  # schema 2


def encode(vectors: np.ndarray, codec: str = INT8) -> list[bytes]:
    """Each row of ``vectors`` as a blob: int8 (scale, then codes), or float32 (schema 2)."""
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    if codec == FLOAT32 or not vectors.size:
        return [row.astype("<f4").tobytes() for row in vectors]
    peak = np.abs(vectors).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype("<f4")
    codes = np.clip(np.rint(vectors / scale[:, None]), -127, 127).astype(np.int8)
    packed = np.empty(len(vectors), dtype=_row(vectors.shape[1]))
    packed["scale"], packed["codes"] = scale, codes
    return [bytes(row) for row in packed.view(np.uint8).reshape(len(vectors), -1)]


def decode(blobs: Iterable[bytes], dimension: int, codec: str = INT8) -> np.ndarray:
    """Blobs back to unit float32 rows (an empty ``(0, dimension)`` array for none)."""
    data = b"".join(blobs)
    if codec == FLOAT32:
        return np.frombuffer(data, dtype="<f4").reshape(-1, dimension).astype(np.float32)
    packed = np.frombuffer(data, dtype=_row(dimension))
    vectors = packed["codes"].astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: np.ndarray = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return unit


def size(dimension: int, codec: str = INT8) -> int:
    """Bytes per stored vector."""
    return 4 * dimension if codec == FLOAT32 else 4 + dimension


def _row(dimension: int) -> np.dtype:
    return np.dtype([("scale", "<f4"), ("codes", "i1", (dimension,))])
