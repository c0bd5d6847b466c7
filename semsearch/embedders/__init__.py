"""Embedders: turn text into unit vectors with a model, on one of several backends.

``load(ref, backend)`` is the registry: each backend name maps to a loader. A backend
that cannot run a model (an ONNX copy that cannot reproduce it, a GPU device) falls
back to torch with a notice (a ``logging`` warning), never an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..defaults import BACKENDS, BATCH_SIZE, DEFAULT_BACKEND
from ..errors import BadInputError
from .base import Embedder, EmbedderFactory, ModelRef, mean_vector
from .models import resolve_model

__all__ = ["Embedder", "EmbedderFactory", "ModelRef", "check_backend", "default_factory", "load", "mean_vector",
           "resolve_model"]

log = logging.getLogger(__name__)

Loader = Callable[[ModelRef, "str | None", int], Embedder]  # (model, device, batch size) -> embedder


def _torch(ref: ModelRef, device: str | None, batch_size: int) -> Embedder:
    from .torch import TorchEmbedder

    return TorchEmbedder(ref, device=device, batch_size=batch_size)


def _onnx(quantized: bool) -> Loader:
    def loader(ref: ModelRef, device: str | None, batch_size: int) -> Embedder:
        from .onnx_export import OnnxUnavailableError, ensure_copy
        from .onnx_runtime import OnnxEmbedder

        backend = "onnx-int8" if quantized else "onnx"
        if device not in (None, "cpu"):
            log.warning("--device %s runs the torch backend, not %s", device, backend)
            return _torch(ref, device, batch_size)
        try:
            folder, _ = ensure_copy(ref)
        except OnnxUnavailableError as exc:
            log.warning("%s cannot run on the %s backend: %s; using torch", ref.model_id, backend, exc)
            return _torch(ref, device, batch_size)
        try:
            embedder = OnnxEmbedder(folder, quantized, batch_size)
        except Exception as exc:  # noqa: BLE001 - a damaged copy must not stop a search
            log.warning("the %s copy of %s in %s would not load (%s); using torch (delete that folder to have it "
                        "made again)", backend, ref.model_id, folder, exc)
            return _torch(ref, device, batch_size)
        return embedder

    return loader


# The backends, by name. The ONNX ones run on the CPU from a copy of the model made once
# (with torch) and cached; torch runs sentence-transformers itself.
REGISTRY: dict[str, Loader] = {"torch": _torch, "onnx": _onnx(False), "onnx-int8": _onnx(True)}
assert tuple(REGISTRY) == BACKENDS


def check_backend(backend: str) -> None:
    """Raise BadInputError unless ``backend`` is one semsearch knows."""
    if backend not in REGISTRY:
        raise BadInputError(f"unknown --backend {backend!r}; choose one of {', '.join(REGISTRY)}")


def load(
    ref: ModelRef, backend: str = DEFAULT_BACKEND, *, device: str | None = None, batch_size: int = BATCH_SIZE
) -> Embedder:
    """The model on ``backend``; on torch instead, with a notice, where that cannot be.

    Raises:
        BadInputError: an unknown backend name.
        ModelUnavailableError: the model cannot be loaded.
    """
    check_backend(backend)
    return REGISTRY[backend](ref, device, batch_size)


def default_factory(device: str | None = None, batch_size: int = BATCH_SIZE) -> EmbedderFactory:
    """The factory indexing and search use unless a caller (a test) passes its own."""
    return lambda ref, backend: load(ref, backend, device=device, batch_size=batch_size)
