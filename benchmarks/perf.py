"""semsearch's speed and memory, each figure next to its baseline from the same run.

    python benchmarks/perf.py [--docs N] [--runs 5] [--only index,reindex,cold,warm] [--write]

  index    `semsearch index` of SciFact (one file per document, ../shared/data/scifact) on
           each backend: passages/s and CPU seconds, next to a plain encode of exactly the
           same passages: sentence-transformers torch fp32 (batch 32), and each backend's own;
  reindex  a no-change re-index of 10,000 small files;
  cold     a cold `semsearch query` (new process, median of --runs): wall time and peak RSS,
           next to `python -c "import sentence_transformers"`;
  warm     in-process query latency p50/p95 and memory at 10k, 100k and 1M passages
           (synthetic unit vectors in faiss, real query encoding);
  quality  `semsearch eval` of SciFact on each backend: nDCG@10 dense and hybrid, and the
           passages/s of the build (when this run built the index; eval caches it).
With --write, each part's table replaces its own section of BENCHMARKS.md. The machine is
shared and noisy: compare the ratios, which are measured side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sections import write_section  # benchmarks/ is the script folder, first on sys.path

REPO = Path(__file__).resolve().parent.parent
SCIFACT = REPO.parent / "shared" / "data" / "scifact"
SEMSEARCH = [sys.executable, "-m", "semsearch"]
BACKENDS = ("torch", "onnx", "onnx-int8")
QUERY = "stop server journals from filling up the drive"


def timed_child(cmd: list[str], **kwargs) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds, peak RSS (MB) and stdout of one command in a new process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, **kwargs)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode})")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, out


def write_scifact(folder: Path, docs: int | None) -> int:
    folder.mkdir(parents=True)
    n = 0
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            (folder / f"{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n", encoding="utf-8")
            n += 1
            if docs and n >= docs:
                break
    return n


def raw_encode(backend: str, texts: list[str]) -> float:
    """Seconds to encode ``texts`` with the bare engine of ``backend``, batch 32, in a new process."""
    script = (
        "import json, sys, time\n"
        "texts = json.load(sys.stdin)\n"
        "from semsearch.embedders import load as load_embedder, resolve_model\n"
        "from semsearch.embedders.torch import load_sentence_transformer\n"
        "ref = resolve_model('all-MiniLM-L6-v2')\n"
        f"backend = {backend!r}\n"
        "if backend == 'torch':\n"
        "    model = load_sentence_transformer(ref, 'cpu')\n"
        "    encode = lambda: model.encode(texts, batch_size=32, normalize_embeddings=True)\n"
        "else:\n"
        "    embedder = load_embedder(ref, backend, batch_size=32)\n"
        "    encode = lambda: embedder.embed_documents(texts)\n"
        "start = time.perf_counter(); encode(); print(time.perf_counter() - start)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps(texts), capture_output=True, text=True,
                          check=True)
    return float(done.stdout.strip().splitlines()[-1])


def bench_index(tmp: Path, docs: int | None) -> list[tuple[str, str, str]]:
    corpus = tmp / "scifact"
    n_docs = write_scifact(corpus, docs)
    rows, texts = [], None
    for backend in BACKENDS:
        shutil.rmtree(corpus / ".semsearch", ignore_errors=True)
        wall, cpu, rss, out = timed_child(SEMSEARCH + ["index", str(corpus), "--backend", backend, "-f", "json"])
        report = json.loads(out)
        if texts is None:
            with sqlite3.connect(corpus / ".semsearch" / "catalog.sqlite") as db:
                texts = [r[0] for r in db.execute("SELECT text FROM chunks ORDER BY id")]
            baseline = raw_encode("torch", texts)
            rows.append((f"baseline: sentence-transformers torch fp32 `encode` (batch 32) of the same "
                         f"{len(texts)} passages", f"{len(texts) / baseline:.1f} passages/s", "1.00×"))
        own = baseline if backend == "torch" else raw_encode(backend, texts)
        rate = report["passages_embedded"] / wall
        rows.append((f"`semsearch index --backend {backend}`: {n_docs} SciFact docs, {report['passages_embedded']} "
                     f"passages, {wall:.0f} s wall, {cpu:.0f} s CPU, {rss} MB peak",
                     f"{rate:.1f} passages/s",
                     f"{rate * baseline / len(texts):.2f}× torch encode; {rate * own / len(texts):.2f}× its own "
                     f"backend's bare encode ({len(texts) / own:.1f} passages/s)"))
    return rows


def bench_reindex(tmp: Path, runs: int) -> list[tuple[str, str, str]]:
    root = tmp / "many"
    for i in range(10_000):
        sub = root / f"d{i // 500:02}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"note{i:05}.txt").write_text(f"Note {i}: topic {i % 97}, idea {i * 31 % 101}.\n")
    build, _, _, _ = timed_child(SEMSEARCH + ["index", str(root), "--backend", "onnx-int8", "-f", "json"])
    times = []
    for _ in range(runs):
        wall, _, _, out = timed_child(SEMSEARCH + ["index", str(root), "-f", "json"])
        assert json.loads(out)["passages_embedded"] == 0
        times.append(wall)
    walk = statistics.median(
        timed_child([sys.executable, "-c", f"import os\nfor _ in os.walk({str(root)!r}): pass"])[0] for _ in range(runs)
    )
    return [(f"no-change re-index of 10,000 small files (median of {runs}; first build {build:.0f} s)",
             f"{statistics.median(times):.2f} s", f"target ≤ 1 s; runs {', '.join(f'{t:.2f}' for t in times)}; "
             f"a bare `os.walk` in a new process: {walk:.2f} s")]


def bench_cold(tmp: Path, runs: int) -> list[tuple[str, str, str]]:
    corpus = tmp / "sample"
    shutil.copytree(REPO / "sample_corpus", corpus)
    rows = []
    baseline = [timed_child([sys.executable, "-c", "import sentence_transformers"]) for _ in range(runs)]
    base_wall = statistics.median(r[0] for r in baseline)
    base_rss = statistics.median(r[2] for r in baseline)
    for backend in BACKENDS:
        shutil.rmtree(corpus / ".semsearch", ignore_errors=True)
        timed_child(SEMSEARCH + ["index", str(corpus), "--backend", backend])
        timed_child(SEMSEARCH + ["query", QUERY, "--index", str(corpus)])  # the first query may make the ONNX copy
        results = [timed_child(SEMSEARCH + ["query", QUERY, "--index", str(corpus), "-k", "3", "-f", "paths"])
                   for _ in range(runs)]
        assert results[0][3].splitlines()[0] == "howto/logrotate.md", results[0][3]
        wall = statistics.median(r[0] for r in results)
        rss = statistics.median(r[2] for r in results)
        rows.append((f"cold `semsearch query`, {backend} index (median of {runs})", f"{wall:.2f} s, {rss} MB",
                     f"{wall / base_wall:.2f}× the import's time, {rss / base_rss:.2f}× its memory; runs "
                     + ", ".join(f"{r[0]:.2f}" for r in results)))
    rows.append((f"baseline: `python -c \"import sentence_transformers\"` (median of {runs})",
                 f"{base_wall:.2f} s, {base_rss} MB", ", ".join(f"{r[0]:.2f}" for r in baseline)))
    return rows


def bench_warm() -> list[tuple[str, str, str]]:
    script = r"""
import json, resource, statistics, sys, time
import numpy as np, faiss
from semsearch.embedders import load as load_embedder, resolve_model
sizes, backend = json.loads(sys.argv[1]), sys.argv[2]
embedder = load_embedder(resolve_model('all-MiniLM-L6-v2'), backend)
queries = [f"how do I {w} my {o}" for w in ("rotate", "back up", "fix", "plan", "clean")
           for o in ("logs", "disk", "trip", "garden", "budget", "bread")]
rng = np.random.default_rng(0)
out = []
for n in sizes:
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    faiss.omp_set_num_threads(1)  # as the semsearch CLI does for its one-at-a-time queries
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(embedder.dimension))
    for start in range(0, n, 100_000):
        block = rng.standard_normal((min(100_000, n - start), embedder.dimension), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        index.add_with_ids(block, np.arange(start, start + len(block), dtype=np.int64))
    lat = []
    for q in queries:
        t = time.perf_counter()
        index.search(embedder.embed_query(q).reshape(1, -1), 50)
        lat.append(time.perf_counter() - t)
    t = time.perf_counter(); [embedder.embed_query(q) for q in queries]; enc = (time.perf_counter() - t) / len(queries)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    p95 = sorted(lat)[int(0.95 * (len(lat) - 1))]
    out.append([n, statistics.median(lat), p95, enc, rss / 1024, (rss - rss0) / 1024])
    del index
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", script, json.dumps([10_000, 100_000, 1_000_000]), "onnx-int8"],
                          capture_output=True, text=True, check=True)
    rows = []
    for n, p50, p95, enc, rss, grew in json.loads(done.stdout.strip().splitlines()[-1]):
        rows.append((f"warm query, {n:,} passages (onnx-int8 query encoding + faiss flat search, top 50)",
                     f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms",
                     f"encoding alone {enc * 1000:.1f} ms; peak RSS {rss:.0f} MB (+{grew:.0f} MB for the vectors)"))
    return rows


def bench_quality() -> list[tuple[str, str, str]]:
    rows, reference = [], None
    for backend in BACKENDS:
        _, _, _, out = timed_child(SEMSEARCH + ["eval", str(SCIFACT), "--backend", backend, "--mode", "dense",
                                                "--mode", "hybrid", "-f", "json"])
        report = json.loads(out)
        ndcg = {r["mode"]: r["scores"]["ndcg_at_10"] for r in report["results"]}
        reference = ndcg["dense"] if reference is None else reference
        built = ("index reused from the cache" if report["index_reused"] else
                 f"index built at {report['passages_embedded'] / report['index_seconds']:.1f} passages/s "
                 f"({report['passages_embedded']} passages, {report['index_seconds']:.0f} s)")
        rows.append((f"SciFact test, {backend} backend",
                     f"nDCG@10 dense {ndcg['dense']:.4f}, hybrid {ndcg['hybrid']:.4f}",
                     f"dense {ndcg['dense'] - reference:+.4f} vs torch; {built}"))
    return rows


PARTS = ("index", "reindex", "cold", "warm", "quality")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=None, help="SciFact documents to index (default: all 5,183)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default=",".join(PARTS), help="which parts to run, comma-separated")
    parser.add_argument("--write", action="store_true", help="update each part's table in BENCHMARKS.md")
    args = parser.parse_args()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    for part in [p for p in PARTS if p in args.only.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            rows = {
                "index": lambda: bench_index(Path(tmp), args.docs),
                "reindex": lambda: bench_reindex(Path(tmp), args.runs),
                "cold": lambda: bench_cold(Path(tmp), args.runs),
                "warm": bench_warm,
                "quality": bench_quality,
            }[part]()
        table = "| measure | result | next to its baseline |\n|---|---|---|\n" + "\n".join(
            f"| {a} | {b} | {c} |" for a, b, c in rows
        )
        docs = f" --docs {args.docs}" if part == "index" and args.docs else ""
        runs = f" --runs {args.runs}" if part in ("reindex", "cold") else ""
        command = f"python benchmarks/perf.py --only {part}{docs}{runs} --write"
        section = (f"<!-- perf-{part}:start -->\nMeasured {time.strftime('%Y-%m-%d')} on {machine} with "
                   f"`{command}`:\n\n{table}\n<!-- perf-{part}:end -->")
        print(section, flush=True)
        if args.write:
            write_section(f"perf-{part}", section)


if __name__ == "__main__":
    main()
