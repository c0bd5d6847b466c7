"""Screen an int8 ONNX model against the fp32 one, cheaply, before any SciFact run.

    python benchmarks/int8_gate.py [MODEL.onnx ...] [--runs 3] [--every N] [--raw]

Embeds the sample corpus's passages (sample_corpus/, walked, read and chunked the way
`semsearch index` does: CHUNK_TOKENS / OVERLAP_TOKENS with the model's tokenizer) with the
fp32 model of the ONNX copy in $SEMSEARCH_CACHE_DIR and with each MODEL given (default: the
copy's own model-int8.onnx), and prints, per model: the mean and minimum cosine of its
vectors to fp32's, and its tokens/s and CPU seconds next to fp32's from the same run
(alternating runs, best of --runs each). --raw: the MODEL files are not yet optimised;
onnxruntime optimises each first, as the export does. The issue's gate (#17 item 3):
mean cosine >= 0.998, then SciFact dense and hybrid nDCG@10 within 0.002 of fp32.
Also prints the CPU's SIMD flags: which int8 kernels (AVX2, AVX-512, VNNI) can run.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from semsearch import defaults
from semsearch.chunking import chunk_text
from semsearch.corpus import read_document, walk
from semsearch.embedders import resolve_model
from semsearch.embedders.onnx_export import _optimize, ensure_copy, import_onnxruntime, int8_variant, model_file
from semsearch.embedders.onnx_runtime import OnnxEmbedder

REPO = Path(__file__).resolve().parent.parent
SIMD = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
        "amx_int8")


def simd_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = set(re.search(r"^flags\s*:(.*)$", text, re.M).group(1).split()) if "flags" in text else set()
    model = re.search(r"^model name\s*:\s*(.*)$", text, re.M)
    return f"{model.group(1) if model else '?'}: {' '.join(f for f in SIMD if f in flags)}"


def sample_passages(embedder: OnnxEmbedder) -> list[str]:
    texts = []
    for entry in walk(REPO / "sample_corpus"):
        doc = read_document(entry)
        if hasattr(doc, "text"):
            texts += [c.text for c in chunk_text(doc.text, embedder.token_spans, defaults.CHUNK_TOKENS,
                                                 defaults.OVERLAP_TOKENS)]
    return texts


def with_model(fp32: OnnxEmbedder, path: Path) -> OnnxEmbedder:
    """An embedder like ``fp32`` (tokenizer, pooling, batching) running ``path``."""
    ort = import_onnxruntime()
    other = OnnxEmbedder.__new__(OnnxEmbedder)
    other.__dict__.update({k: v for k, v in fp32.__dict__.items() if k != "_session"})
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    other._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return other


def timed(embedder: OnnxEmbedder, texts: list[str]) -> tuple[np.ndarray, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    vectors = embedder.embed_documents(texts)
    return vectors, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--every", type=int, default=1, help="screen on every Nth passage only")
    parser.add_argument("--raw", action="store_true", help="optimise each model first, as the export does")
    args = parser.parse_args()
    ort = import_onnxruntime()
    folder, _ = ensure_copy(resolve_model(defaults.DEFAULT_MODEL))
    fp32 = OnnxEmbedder(folder)
    texts = sample_passages(fp32)[:: args.every]
    tokens = sum(len(e.ids) for e in fp32._tokenizer.encode_batch(texts))
    print(f"CPU {simd_flags()}; int8 variant here: {int8_variant()}; onnxruntime {ort.__version__}")
    print(f"{len(texts)} sample passages, {tokens} tokens; best of {args.runs} runs each\n")
    models = args.models or [model_file(folder, quantized=True)]
    with tempfile.TemporaryDirectory() as tmp:
        embedders = {}
        for path in models:
            if args.raw:
                optimised = Path(tmp) / f"{len(embedders)}.onnx"
                _optimize(path, optimised)
                path_run = optimised
            else:
                path_run = path
            embedders[path] = with_model(fp32, path_run)
        base, runs = None, {p: [] for p in [None, *models]}
        for _ in range(args.runs):
            for path in [None, *models]:
                vectors, wall, cpu = timed(fp32 if path is None else embedders[path], texts)
                runs[path].append((wall, cpu))
                if path is None:
                    base = vectors
                else:
                    embedders[path].vectors = vectors
        fp32_wall = min(w for w, _ in runs[None])
        fp32_cpu = min(c for _, c in runs[None])
        print(f"{'model':48} {'mean cos':>9} {'min cos':>9} {'tok/s':>8} {'x fp32':>7} {'CPU s':>7} {'x fp32':>7}")
        print(f"{'fp32 (model.onnx)':48} {1:9.5f} {1:9.5f} {tokens / fp32_wall:8.0f} {1:7.2f} {fp32_cpu:7.2f} "
              f"{1:7.2f}")
        for path in models:
            cos = np.sum(embedders[path].vectors * base, axis=1)
            wall = min(w for w, _ in runs[path])
            cpu = min(c for _, c in runs[path])
            print(f"{str(path)[-48:]:48} {cos.mean():9.5f} {cos.min():9.5f} {tokens / wall:8.0f} "
                  f"{fp32_wall / wall:7.2f} {cpu:7.2f} {fp32_cpu / cpu:7.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
