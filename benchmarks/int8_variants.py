"""Make int8 variants of the model's raw (unoptimised) ONNX trace, for int8_gate.py to screen.

    python benchmarks/int8_variants.py RAW.onnx OUT_FOLDER NAME [NAME ...]

RAW.onnx: `torch.onnx.export` of the transformer as onnx_export._trace writes it. Names:
  dyn                 quantize_dynamic as the export did (s8 weights per channel, 7-bit)
  dyn-u8              u8 weights (u8u8 kernel: AVX2 widens to 16 bits, no 7-bit limit)
  dyn-8bit            s8 weights, full 8 bits (the VNNI variant; AVX2 may saturate); dyn-8bit-skip-...
  dyn-only-GROUP      dynamic, only GROUP's MatMuls quantised (find the sensitive ones)
  dyn-skip-GROUP[+GROUP...]  dynamic, GROUP's MatMuls kept in fp32 (dyn-u8-skip-...: with u8 weights)
  st[-pct][-sym][-skip-GROUP...]  static QDQ (u8 activations, s8 7-bit weights per channel), calibrated
                      MinMax (or Percentile 99.999) on Python's docs; attention scores stay fp32
GROUP: query key value attn_out inter out (each layer's; out3: layer 3's only), L0..L5 (a whole
layer), emb (the Gather).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import onnx

GROUPS = {"query": "attention/self/query/", "key": "attention/self/key/", "value": "attention/self/value/",
          "attn_out": "attention/output/dense/", "inter": "intermediate/dense/", "out": "/output/dense/"}


def nodes(model: onnx.ModelProto, group: str) -> list[str]:
    quantisable = [n for n in model.graph.node if n.op_type in ("MatMul", "Gather")]
    if group == "emb":
        return [n.name for n in quantisable if n.op_type == "Gather" and "embeddings" in n.name]
    if group.startswith("L"):
        return [n.name for n in quantisable if f"/layer.{group[1:]}/" in n.name]
    layer = group[-1] if group[-1].isdigit() else ""  # out3: layer 3's only
    group = group.rstrip("0123456789")
    pattern = GROUPS[group]
    return [n.name for n in quantisable if pattern in n.name and (group != "out" or "attention" not in n.name)
            and f"/layer.{layer}" in n.name]


class Calibration:
    """onnxruntime's CalibrationDataReader over Python's own documentation (pydoc_data,
    installed with Python): 200-token windows, 8 per batch; none of SciFact, none of the
    sample corpus."""

    def __init__(self, passages: int = 96, batch: int = 8) -> None:
        from pydoc_data.topics import topics

        import numpy as np
        from tokenizers import Tokenizer

        from semsearch import defaults
        from semsearch.embedders import resolve_model
        from semsearch.embedders.onnx_export import ensure_copy

        folder, _ = ensure_copy(resolve_model(defaults.DEFAULT_MODEL))
        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tok.enable_truncation(202)
        words = " ".join(topics[k] for k in sorted(topics)).split()
        texts = [" ".join(words[i : i + 150]) for i in range(0, len(words), 150)]
        texts = texts[:: max(1, len(texts) // passages)]
        encs = tok.encode_batch(texts[:passages])
        self.feeds = []
        for i in range(0, len(encs), batch):
            part = encs[i : i + batch]
            width = max(len(e.ids) for e in part)
            ids, mask = np.zeros((len(part), width), np.int64), np.zeros((len(part), width), np.int64)
            for r, e in enumerate(part):
                ids[r, : len(e.ids)], mask[r, : len(e.ids)] = e.ids, 1
            self.feeds.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
        self._it = iter(self.feeds)

    def get_next(self):
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter(self.feeds)


def make_static(raw: Path, target: Path, name: str) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    model = onnx.load(str(raw))
    scores = [n.name for n in model.graph.node if n.op_type == "MatMul" and "/self/MatMul" in n.name]
    parts = name.split("-skip-")
    skip = [n for g in parts[1].split("+") for n in nodes(model, g)] if len(parts) > 1 else []
    method = CalibrationMethod.Percentile if "pct" in parts[0] else CalibrationMethod.MinMax
    extra = {"ActivationSymmetric": "sym" in parts[0]}
    if method == CalibrationMethod.Percentile:
        extra["CalibPercentile"] = 99.999
    quantize_static(str(raw), str(target), Calibration(), quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=["MatMul", "Gather"], per_channel=True, reduce_range=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=scores + skip,
                    calibrate_method=method, extra_options=extra)


def make(raw: Path, target: Path, name: str) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if name.startswith("st"):
        return make_static(raw, target, name)
    model = onnx.load(str(raw))
    everything = [n.name for n in model.graph.node if n.op_type in ("MatMul", "Gather")]
    kwargs = {"weight_type": QuantType.QInt8, "per_channel": True, "reduce_range": True}
    if name.startswith("dyn-u8"):
        kwargs.update(weight_type=QuantType.QUInt8, reduce_range=False)
        name = name.replace("dyn-u8", "dyn")
    if name.startswith("dyn-8bit"):
        kwargs.update(reduce_range=False)
        name = name.replace("dyn-8bit", "dyn")
    if name.startswith("dyn-only-"):
        keep = set(nodes(model, name.removeprefix("dyn-only-")))
        kwargs["nodes_to_exclude"] = [n for n in everything if n not in keep]
    elif name.startswith("dyn-skip-"):
        kwargs["nodes_to_exclude"] = [n for g in name.removeprefix("dyn-skip-").split("+") for n in nodes(model, g)]
    elif name != "dyn":
        raise SystemExit(f"unknown variant {name}")
    quantize_dynamic(str(raw), str(target), **kwargs)


def main() -> None:
    logging.getLogger().setLevel(logging.ERROR)
    raw, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for name in sys.argv[3:]:
        make(raw, out / f"{name}.onnx", name)
        print(out / f"{name}.onnx")


if __name__ == "__main__":
    main()
