"""The int8 copy of a traced transformer: which matrix products run in int8, and how.

Dynamic quantisation (onnxruntime's ``quantize_dynamic``): weights int8 per output
channel, activations quantised per batch at run time. On x86 CPUs without VNNI the
weights keep 7 bits (``reduce_range``), so AVX2's pairwise multiply-add cannot saturate.

Mixed precision, from a measured sensitivity screen (``benchmarks/int8_gate.py``,
BENCHMARKS.md "#17 item 3"): quantising one group of products at a time on the sample
passages, the feed-forward output products lose the most cosine to fp32, the first
layer's most of all. That one product stays fp32 (about 1/18 of the model's
multiply-adds): mean cosine to fp32 0.9927 instead of 0.9908, at the same speed.
Calibrated static quantisation was measured too and is far worse here (0.918).
"""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["kept_in_fp32", "quantize"]


def kept_in_fp32(model_path: Path) -> list[str]:
    """The MatMul nodes left in fp32: the first encoder layer's feed-forward output
    (named ``.../layer.0/output/dense/MatMul`` in Hugging Face BERT-style traces; none
    in a graph named otherwise)."""
    import onnx

    model = onnx.load(str(model_path), load_external_data=False)
    return [n.name for n in model.graph.node
            if n.op_type == "MatMul" and "/layer.0/output/dense/" in n.name and "attention" not in n.name]


def quantize(source: Path, target: Path, reduce_range: bool) -> None:
    """Write ``source``'s int8 copy to ``target`` (deterministic: no calibration data).

    Args:
        reduce_range: 7-bit weights, for x86 CPUs without VNNI.
    """
    from .onnx_export import import_onnxruntime

    import_onnxruntime()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root_logger = logging.getLogger()
    level = root_logger.level
    root_logger.setLevel(logging.ERROR)  # the quantizer logs a pre-processing hint at WARNING
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=reduce_range, nodes_to_exclude=kept_in_fp32(source))
    finally:
        root_logger.setLevel(level)
