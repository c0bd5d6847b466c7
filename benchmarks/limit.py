"""How close the encoder runs to this CPU's physical limit, and what ONNX Runtime's
session options change (issue #17, items 2 and 5).

    python benchmarks/limit.py [--passages 256] [--rounds 3]

Encodes the same SciFact passages (cut as ``semsearch index`` cuts them) with the bare
ONNX session of each backend, under each session variant, alternating variants round
by round so a busy machine slows them alike; reports the best round's tokens per CPU
second and per wall second. FLOPs per token come from the model's config (multiply-add
= 2 FLOPs): per layer ``8h² + 4hi`` for the projections and feed-forward, plus ``4hL``
for attention over a passage of ``L`` tokens. The peak is cores × clock × FLOPs per
cycle: 32 for fp32 on a core with two 256-bit FMA units (AVX2), 64 with AVX-512.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SCIFACT = REPO.parent / "shared" / "data" / "scifact" / "corpus.jsonl"


def lscpu() -> dict[str, str]:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out.splitlines() if ":" in line)}


def peak_gflops(cpu: dict[str, str]) -> tuple[float, str]:
    flags = cpu.get("Flags", "").split()
    simd = [f for f in flags if re.match(r"(avx|fma|amx|sse4|vnni)", f)]
    cores = int(cpu.get("Core(s) per socket", "1")) * int(cpu.get("Socket(s)", "1"))
    mhz = float(cpu.get("CPU max MHz") or cpu.get("CPU MHz") or _cpuinfo_mhz())
    per_cycle = 64 if "avx512f" in flags else 32 if "fma" in flags and "avx2" in flags else 16 if "avx" in flags else 8
    return cores * mhz / 1000 * per_cycle, (f"{cores} cores × {mhz / 1000:.2f} GHz × {per_cycle} fp32 FLOPs/cycle; "
                                          f"SIMD flags: {' '.join(simd)}")


def _cpuinfo_mhz() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("cpu MHz"):
            return line.split(":")[1]
    return "0"


def passages(n: int, token_spans) -> list[str]:
    from semsearch.chunking import chunk_text

    out: list[str] = []
    with open(SCIFACT, encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            out += [c.text for c in chunk_text(f"{doc['title']}\n\n{doc['text']}\n", token_spans, 200, 32)]
            if len(out) >= n:
                return out[:n]
    return out


def flops_per_token(config: dict, length: float) -> float:
    h, i, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    return layers * (8 * h * h + 4 * h * i + 4 * h * length)


def session(path: Path, variant: str):
    from semsearch.embedders.onnx_export import import_onnxruntime

    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # semsearch's (optimised when made)
    if variant == "threads=cores":
        options.intra_op_num_threads = os.cpu_count() or 1
    if variant == "threads=1":
        options.intra_op_num_threads = 1
    if variant == "opt=all":
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if variant == "no-arena":
        options.enable_cpu_mem_arena = False
    if variant == "sequential+spin-off":
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(sess, encodings, batch: int = 32) -> tuple[int, int]:
    """Encode every passage in length-sorted batches as OnnxEmbedder does; (real, padded) tokens."""
    order = sorted(range(len(encodings)), key=lambda k: -len(encodings[k].ids))
    real = padded = 0
    for start in range(0, len(order), batch):
        group = [encodings[k] for k in order[start : start + batch]]
        width = max(len(e.ids) for e in group)
        ids = np.zeros((len(group), width), np.int64)
        mask = np.zeros((len(group), width), np.int64)
        for row, e in enumerate(group):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        sess.run(None, {"input_ids": ids, "token_type_ids": np.zeros_like(ids), "attention_mask": mask})
        real += int(mask.sum())
        padded += ids.size
    return real, padded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default="semsearch,threads=cores,threads=1,opt=all,no-arena,sequential+spin-off")
    opts = parser.parse_args()
    from semsearch.embedders import load, resolve_model
    from semsearch.embedders.onnx_export import model_file

    ref = resolve_model("all-MiniLM-L6-v2")
    config = json.loads((ref.path / "config.json").read_text())
    embedder = load(ref, "onnx")
    texts = passages(opts.passages, embedder.token_spans)
    encodings = embedder._tokenizer.encode_batch(texts)  # the embedder's own tokenizer and window
    folder = embedder._folder
    cpu = lscpu()
    peak, how = peak_gflops(cpu)
    load1 = os.getloadavg()
    print(f"CPU: {cpu.get('Model name')}; peak {peak:.0f} GFLOP/s ({how}); load average {load1[0]:.1f}")
    print(f"{len(texts)} SciFact passages, best of {opts.rounds} rounds\n")
    print("| backend | session | tokens / wall s | tokens / CPU s | GFLOP/s (wall) | share of peak |")
    print("|---|---|---|---|---|---|")
    variants = opts.variants.split(",")
    for backend, quantized in (("onnx", False), ("onnx-int8", True)):
        sessions = {v: session(model_file(folder, quantized), v) for v in variants}
        best: dict[str, tuple[float, float]] = {}
        for _ in range(opts.rounds):
            for v, sess in sessions.items():
                c0, w0 = time.process_time(), time.perf_counter()
                real, padded = run(sess, encodings)
                cpu_s, wall = time.process_time() - c0, time.perf_counter() - w0
                prev = best.get(v, (0.0, 0.0))
                best[v] = (max(prev[0], real / wall), max(prev[1], real / cpu_s))
        mean_len = float(np.mean([len(e.ids) for e in encodings]))
        per_token = flops_per_token(config, mean_len) * padded / real  # padding is computed too
        for v in variants:
            wall_rate, cpu_rate = best[v]
            gflops = wall_rate * per_token / 1e9
            print(f"| {backend} | {v} | {wall_rate:.0f} | {cpu_rate:.0f} | {gflops:.1f} | {gflops / peak:.0%} |")
    print(f"\nFLOPs per real token: {per_token / 1e6:.1f} M (mean {mean_len:.0f} tokens, padding included); "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")


if __name__ == "__main__":
    main()
