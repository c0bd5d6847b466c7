"""Make, once, and find the ONNX copy of a model that the fast backends run.

The copy lives in the user's cache (``$SEMSEARCH_CACHE_DIR``, else
``$XDG_CACHE_HOME/semsearch``, else ``~/.cache/semsearch``) under ``onnx/``, in a
folder named for the model and the exact files it was made from, so a changed
model gets a new copy. Making it needs torch (it traces the loaded model); using
it needs only onnxruntime and tokenizers. Nothing here touches the network.

A copy folder holds ``model.onnx`` (the transformer, fp32), ``model-int8.onnx``
(int8 weights for this CPU's instruction set), both already optimised by
onnxruntime so that loading them is quick, ``tokenizer.json`` and ``embedder.json``
(pooling, window, prompts: what sentence-transformers does around the transformer).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..defaults import cache_dir
from ..errors import BadInputError, SemsearchError
from .base import ModelRef
from .torch import load_sentence_transformer, model_shape

if TYPE_CHECKING:
    from types import ModuleType

    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Transformer

log = logging.getLogger(__name__)

# Bump when the layout or contents of a copy change, so old copies are not reused.
EXPORT_FORMAT = 1
CONFIG_NAME = "embedder.json"
SUPPORTED_POOLING = ("mean", "cls", "max")


class OnnxUnavailableError(SemsearchError):
    """This model cannot run on the ONNX backends; the caller falls back to torch."""


def import_onnxruntime() -> ModuleType:
    """onnxruntime, imported with its telemetry off: every import of it goes through here.

    onnxruntime's telemetry is on by default on Linux (DNS lookups, a device id under
    ``~/.cache/Microsoft/``); only ``ORT_DISABLE_TELEMETRY`` set before its first import
    stops it. A value the user set is kept.
    """
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime

    return cast("ModuleType", onnxruntime)  # it ships no types: mypy sees Any


def copy_folder(ref: ModelRef) -> Path:
    """Where the ONNX copy of ``ref`` is (or will be): named for the model and its files,
    the int8 variant this CPU wants and the onnxruntime that optimised it."""
    onnxruntime = import_onnxruntime()

    h = hashlib.sha256(f"{EXPORT_FORMAT}\0{ref.model_id}\0{int8_variant()}\0{onnxruntime.__version__}".encode())
    for path in sorted(p for p in ref.path.rglob("*") if p.is_file()):
        st = path.stat()
        h.update(f"\0{path.relative_to(ref.path)}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in ref.model_id.rsplit("/", 1)[-1])[:60]
    return cache_dir() / "onnx" / f"{slug}-{h.hexdigest()[:16]}"


def int8_variant() -> str:
    """Which int8 weights suit this CPU: full 8-bit ones (``vnni``) where x86 has VNNI, or
    on other architectures, whose int8 dot products do not saturate; else 7-bit ones
    (``portable``), which keep AVX2's pairwise int8 multiply-add from saturating."""
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return "vnni"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "portable"
    return "vnni" if ("avx512_vnni" in flags or "avx_vnni" in flags) else "portable"


def model_file(folder: Path, quantized: bool) -> Path:
    return folder / ("model-int8.onnx" if quantized else "model.onnx")


def ensure_copy(ref: ModelRef) -> tuple[Path, bool]:
    """The ONNX copy's folder, made first if missing; and whether it was made now.

    Raises:
        OnnxUnavailableError: the model has parts the ONNX path does not reproduce,
            or the export failed.
    """
    try:
        folder = copy_folder(ref)
        remove_stale_exports(folder.parent)
        if (folder / CONFIG_NAME).is_file():
            return folder, False
        folder.parent.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError, BadInputError) as exc:  # no home folder, a cache folder that cannot be written...
        raise OnnxUnavailableError(f"its ONNX copy cannot be kept in the cache ({exc}); set SEMSEARCH_CACHE_DIR "
                                   "to a folder you can write") from exc
    # Said before it starts: a first run would otherwise sit silent for this long.
    log.warning("making the ONNX copy of %s, once (about 20 s; later runs reuse it from %s)…", ref.model_id,
                folder.parent)
    _export(ref, folder)
    return folder, True


STALE_AFTER = 3600.0  # seconds: an export takes minutes; a temp folder this old was abandoned


def remove_stale_exports(copies: Path) -> None:
    """Delete the temporary folders of exports that were killed (each is about 90 MB):
    those whose process is gone, and any older than an hour."""
    try:
        entries = list(os.scandir(copies))
    except OSError:
        return
    for entry in entries:
        if not (entry.name.endswith(".tmp") and entry.is_dir(follow_symlinks=False)):
            continue
        parts = entry.name.split(".")
        pid = int(parts[-3]) if len(parts) >= 4 and parts[-3].isdigit() else None
        try:
            age = time.time() - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if age > STALE_AFTER or (pid is not None and pid != os.getpid() and not _alive(pid)):
            shutil.rmtree(entry.path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _export(ref: ModelRef, folder: Path) -> None:
    """Trace the model's transformer to ONNX, quantize and optimise it, and write what
    the runtime needs beside it; the folder appears whole or not at all."""
    model = load_sentence_transformer(ref, "cpu")
    config = _embedder_config(ref, model)
    work: Path | None = None
    try:
        # Named with our pid, so that a later run can tell the folder of a killed export.
        work = Path(tempfile.mkdtemp(prefix=f"{folder.name}.{os.getpid()}.", suffix=".tmp", dir=folder.parent))
        raw, raw_int8 = work / "raw.onnx", work / "raw-int8.onnx"
        _trace(model, config["inputs"], raw)
        _quantize(raw, raw_int8)
        _optimize(raw, model_file(work, quantized=False))
        _optimize(raw_int8, model_file(work, quantized=True))
        raw.unlink()
        raw_int8.unlink()
        (work / "tokenizer.json").write_text(model.tokenizer.backend_tokenizer.to_str(), encoding="utf-8")
        (work / CONFIG_NAME).write_text(json.dumps(config, indent=1), encoding="utf-8")
        try:
            os.rename(work, folder)
        except OSError:
            if not (folder / CONFIG_NAME).is_file():  # not another process finishing first
                raise
    except Exception as exc:  # whatever broke, the caller falls back to torch
        raise OnnxUnavailableError(f"exporting it to ONNX failed ({type(exc).__name__}: {exc})") from exc
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def _embedder_config(ref: ModelRef, model: SentenceTransformer) -> dict[str, Any]:
    """What sentence-transformers does around the transformer, if the ONNX path can do it too.

    Raises:
        OnnxUnavailableError: the model has modules or settings the ONNX path does not reproduce.
    """
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    modules = list(model)
    others = [type(m).__name__ for m in modules[1:] if not isinstance(m, (Pooling, Normalize))]
    pooling = [m for m in modules[1:] if isinstance(m, Pooling)]
    if not modules or not isinstance(modules[0], Transformer) or others or len(pooling) != 1:
        raise OnnxUnavailableError(f"its modules are not transformer, pooling, normalize ({', '.join(others)})")
    pooling_config = pooling[0].get_config_dict()
    mode = pooling_config.get("pooling_mode")
    mode = mode[0] if isinstance(mode, (list, tuple)) and len(mode) == 1 else mode
    if mode not in SUPPORTED_POOLING:
        raise OnnxUnavailableError(f"its pooling ({mode}) is not one of {', '.join(SUPPORTED_POOLING)}")
    prompts = {k: v for k, v in (model.prompts or {}).items() if isinstance(v, str)}
    if not pooling_config.get("include_prompt", True) and any(prompts.values()):
        raise OnnxUnavailableError("its pooling leaves the prompt out")
    tokenizer = model.tokenizer
    dimension, window = model_shape(ref, model)
    return {
        "format": EXPORT_FORMAT,
        "model_id": ref.model_id,
        "inputs": [n for n in tokenizer.model_input_names if n in ("input_ids", "attention_mask", "token_type_ids")],
        "pooling": mode,
        "dimension": dimension,
        "max_seq_length": window,
        "special_tokens": int(tokenizer.num_special_tokens_to_add()),
        "do_lower_case": bool(getattr(modules[0], "do_lower_case", False)),
        "prompts": prompts,
    }


def _trace(model: SentenceTransformer, names: list[str], target: Path) -> None:
    """``torch.onnx.export`` of the transformer: token inputs -> last hidden state."""
    import warnings

    import torch

    hf_model = cast("Transformer", model[0]).auto_model.eval()  # _embedder_config checked it is one

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = hf_model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            hidden: torch.Tensor = self.inner(**dict(zip(names, inputs, strict=True))).last_hidden_state
            return hidden

    sample = model.tokenizer(["semsearch", "a longer sentence to trace the model with"], padding=True,
                             return_tensors="pt")
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(Wrapped(), tuple(sample[n] for n in names), str(target), input_names=names,
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False)


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8 quantization: weights int8 per channel, activations at run time."""
    import logging

    import_onnxruntime()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root_logger = logging.getLogger()
    level = root_logger.level
    root_logger.setLevel(logging.ERROR)  # the quantizer logs a pre-processing hint at WARNING
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=int8_variant() == "portable")
    finally:
        root_logger.setLevel(level)


def _optimize(source: Path, target: Path) -> None:
    """Save onnxruntime's optimised graph (fused attention, layer norm...), so a later
    session loads it without optimising again: the bulk of a cold query's model load."""
    ort = import_onnxruntime()

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(target)
    options.log_severity_level = 3
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
