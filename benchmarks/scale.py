"""Search at a million passages, each figure next to exact float32 flat search (the vector
index as it was before the vector-index seam) measured in the same run.

    python benchmarks/scale.py [--work DIR] [--sizes 100000,1000000] [--runs 300]
                               [--only prepare,build,kinds,query,update,scifact] [--previous-rev REV] [--write]

  prepare  vectors (the real model's SciFact vectors extended by perturbed copies, see
           scale_work.py), the 300 SciFact test queries embedded, exact top-10 ground truth;
  build    an index of each size (`auto`), written through the storage API, files of 10
           passages in 100 folders (so `--path 'd07/*'` is 1% of the files);
  kinds    at the smallest size, the same index with ivf and with hnsw forced (why auto is
           flat there, and ivf above);
  query    warm dense, hybrid and filtered query latency (the query vector given; its
           encoding timed apart), recall@10, `similar`, peak RSS: the index, and exact
           float32 flat, each in a process of its own (for its memory); then both in one
           process taking turns query by query (the latencies shown: the machine's load
           swings, and this way it weighs on both alike);
  update   the vector index update after adding 1,000 passages, and after removing them,
           next to rewriting every vector (what every changing `index` run did before);
  scifact  the cached SciFact eval index (schema 2) upgraded without re-embedding: size, and
           nDCG@10 in all three modes with flat, ivf and hnsw, next to the previous
           main's `semsearch eval` (a checkout of --previous-rev) on the same cache.
Results accumulate in WORK/results.json; --write puts the table in BENCHMARKS.md. Every
child runs niced, one at a time (the machine has two shared cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sections import write_section  # benchmarks/ is the script folder, first on sys.path

REPO = Path(__file__).resolve().parent.parent
WORK = Path(__file__).with_name("scale_work.py")


def child(part: str, cwd: Path = REPO, pythonpath: Path = REPO, **args: object) -> dict:
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "OMP_NUM_THREADS": "2"}
    env.setdefault("SEMSEARCH_CACHE_DIR", "/work/evalcache")
    done = subprocess.run(["nice", "-n", "10", sys.executable, str(WORK), part, json.dumps(args)], env=env,
                          cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{part} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def previous_eval(rev: str, work: Path) -> dict:
    """`semsearch eval` of SciFact from a checkout of ``rev`` (reusing the cached index)."""
    checkout = work / f"previous-{rev}"
    if not checkout.exists():
        checkout.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(checkout)], input=archive, check=True)
    # Its own copy of the cached eval index (an older semsearch's eval may rewrite the vector
    # file of the shared cache), sharing the cached ONNX model.
    shared = Path(os.environ.get("SEMSEARCH_CACHE_DIR", "/work/evalcache"))
    cache = work / "previous-cache"
    if not cache.exists():
        cache.mkdir()
        for entry in shared.iterdir():
            if entry.name.startswith("scifact-"):
                subprocess.run(["cp", "-a", str(entry), str(cache / entry.name)], check=True)
            else:
                (cache / entry.name).symlink_to(entry)
    env = {**os.environ, "PYTHONPATH": str(checkout), "SEMSEARCH_CACHE_DIR": str(cache)}
    out = subprocess.run(["nice", "-n", "10", sys.executable, "-m", "semsearch", "eval", str(REPO.parent / "shared" /
                          "data" / "scifact"), "-f", "json"], env=env, cwd=checkout, capture_output=True, text=True,
                         check=True).stdout
    return {r["mode"]: r["scores"]["ndcg_at_10"] for r in json.loads(out)["results"]}


def run(parts: list[str], work: Path, sizes: list[int], runs: int, rev: str) -> dict:
    path = work / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}

    def keep(key: str, value: object) -> None:
        results[key] = value
        path.write_text(json.dumps(results, indent=1))
        print(key, json.dumps(value), flush=True)

    if "prepare" in parts:
        keep("prepare", child("prepare", work=str(work), n=max(sizes)))
    for n in sizes:
        root = work / f"index-{n}"
        if "build" in parts:
            subprocess.run(["rm", "-rf", str(root)], check=True)
            keep(f"build-{n}", child("build", work=str(work), n=n, root=str(root), kind="auto"))
        if "query" in parts:
            if not (work / f"truth-{n}.npy").exists():
                child("truth", work=str(work), n=n)
            keep(f"query-{n}", child("query", work=str(work), root=str(root), sides=["ours"], runs=runs)["ours"])
            keep(f"query-{n}-flat32", child("query", work=str(work), root=str(root), sides=["baseline"],
                                            runs=runs)["baseline"])
            keep(f"compare-{n}", child("query", work=str(work), root=str(root), sides=["ours", "baseline"],
                                       runs=runs))
        if "update" in parts:
            keep(f"update-{n}", child("update", work=str(work), root=str(root), add=1000))
    if "kinds" in parts:
        n = min(sizes)
        for kind in ("ivf", "hnsw"):
            root = work / f"index-{n}-{kind}"
            subprocess.run(["rm", "-rf", str(root)], check=True)
            keep(f"build-{n}-{kind}", child("build", work=str(work), n=n, root=str(root), kind=kind))
            if not (work / f"truth-{n}.npy").exists():
                child("truth", work=str(work), n=n)
            keep(f"query-{n}-{kind}", child("query", work=str(work), root=str(root), sides=["ours"], runs=runs)["ours"])
    if "scifact" in parts:
        keep("scifact", child("scifact", work=str(work), kinds=["flat", "ivf", "hnsw"]))
        keep("scifact-previous", previous_eval(rev, work))
    return results


def table(r: dict, sizes: list[int]) -> str:
    """The results as a Markdown table (rows for what was measured)."""
    rows = []
    for n in sizes:
        q, b, u, built = r.get(f"query-{n}"), r.get(f"query-{n}-flat32"), r.get(f"update-{n}"), r.get(f"build-{n}")
        tag = f"{n:,}"
        both = r.get(f"compare-{n}")
        if q and b and both:  # latencies from the process that took turns, query by query
            q = {**q, **{k: {**q[k], **both["ours"][k]} for k in ("dense", "hybrid", "filtered", "similar")}}
            b = {**b, **{k: {**b[k], **both["baseline"][k]} for k in ("dense", "hybrid", "filtered", "similar")}}
        if built:
            rows.append((f"{tag}: index built (catalog; vector index)", "",
                         f"{built['catalog_s']:.0f} s; {built['vectors_s']:.0f} s, {built['index']}", ""))
        if q and b:
            rows += [
                (f"{tag}: warm dense query, p50 / p95 (query vector given)", "≤ 10 / 25 ms",
                 f"{q['dense']['p50_ms']:.1f} / {q['dense']['p95_ms']:.1f} ms",
                 f"{b['dense']['p50_ms']:.1f} / {b['dense']['p95_ms']:.1f} ms"),
                (f"{tag}: query encoding (onnx), p50", "", f"{q['encode']['p50_ms']:.1f} ms",
                 f"{b['encode']['p50_ms']:.1f} ms"),
                (f"{tag}: recall@10 against exact float32 search", "≥ 0.95", f"{q['recall_at_10']:.3f}",
                 f"{b['recall_at_10']:.3f}"),
                (f"{tag}: peak RSS of the query process (model loaded)", "≤ 1 GB", f"{q['peak_rss_mb']:.0f} MB",
                 f"{b['peak_rss_mb']:.0f} MB"),
                (f"{tag}: hybrid query (FTS5 over {n:,} passages), p50 / p95 of 30", "≤ 50 ms p50",
                 f"{q['hybrid']['p50_ms']:.1f} / {q['hybrid']['p95_ms']:.1f} ms",
                 f"{b['hybrid']['p50_ms']:.1f} / {b['hybrid']['p95_ms']:.1f} ms"),
                (f"{tag}: `--path 'd07/*'` ({q['filtered']['allowed']:,} passages, 1% of files), p50",
                 "≤ 2× unfiltered",
                 f"{q['filtered']['p50_ms']:.1f} ms = "
                 f"{q['filtered']['p50_ms'] / q['dense']['p50_ms']:.2f}× unfiltered; "
                 f"exactly 10: {q['filtered']['exactly_k']}; recall@10 {q['filtered']['recall_at_10']:.3f}",
                 f"{b['filtered']['p50_ms']:.1f} ms = {b['filtered']['p50_ms'] / b['dense']['p50_ms']:.2f}×"),
                (f"{tag}: `similar FILE`, p50", "≤ 50 ms", f"{q['similar']['p50_ms']:.1f} ms",
                 f"{b['similar']['p50_ms']:.1f} ms (every centroid read)"),
            ]
        if built:
            today = n * 384 * 4 * 2 / 1e6 + n * 8 / 1e6
            rows.append((f"{tag}: passage vectors on disk (catalog + vector files)", "≤ 0.8 GB at 1M",
                         f"{built['catalog_vectors_mb'] + built['vector_files_mb']:.0f} MB "
                         f"({built['catalog_vectors_mb']:.0f} + {built['vector_files_mb']:.0f}); "
                         f"whole folder {built['folder_mb']:.0f} MB",
                         f"{today:.0f} MB (float32 twice, computed)"))
        if u:
            rows.append((f"{tag}: vector index update after adding 1,000 passages / removing them", "≤ 5 s",
                         f"{u['vectors_add_s']:.2f} s / {u['vectors_remove_s']:.2f} s",
                         f"{u['old_rewrite_s']:.1f} s (every vector read, whole file written)"))
        if u and "merge_s" in u:
            rows.append((f"{tag}: the same when the delta is full ({u['merge_added']:,} added): merged into "
                         "the main segment", "", f"{u['merge_s']:.1f} s", ""))
    n = min(sizes)
    for kind in ("ivf", "hnsw"):
        q, built = r.get(f"query-{n}-{kind}"), r.get(f"build-{n}-{kind}")
        if q and built:
            rows.append((f"{n:,}, {kind} forced: build; dense p50; recall@10; RSS; vector files", "",
                         f"{built['vectors_s']:.0f} s; {q['dense']['p50_ms']:.1f} ms; {q['recall_at_10']:.3f}; "
                         f"{q['peak_rss_mb']:.0f} MB; {built['vector_files_mb']:.0f} MB", built["index"]))
    s, prev = r.get("scifact"), r.get("scifact-previous")
    if s:
        rows.append(("SciFact index (12,474 passages): size after upgrade", "≤ 0.7× (58.4 MB)",
                     f"{s['after_mb']:.1f} MB = {s['after_mb'] / s['before_mb']:.2f}× (upgraded in "
                     f"{s['upgrade_s']:.0f} s, {s['embedded']} passages re-embedded)", f"{s['before_mb']:.1f} MB"))
    if s and prev:
        for kind in ("flat", "ivf", "hnsw"):
            rows.append((f"SciFact nDCG@10, {kind}: dense / lexical / hybrid", "within 0.002",
                         " / ".join(f"{s[kind][m]:.4f} ({s[kind][m] - prev[m]:+.4f})" for m in ("dense", "lexical",
                                                                                                "hybrid")),
                         " / ".join(f"{prev[m]:.4f}" for m in ("dense", "lexical", "hybrid"))))
    return ("| measure | target | this change | exact float32 flat, as before (same run) |\n|---|---|---|---|\n"
            + "\n".join(f"| {a} | {t} | {c} | {d} |" for a, t, c, d in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "semsearch-scale")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--only", default="prepare,build,kinds,query,update,scifact")
    parser.add_argument("--previous-rev", default="main")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    results = run(args.only.split(","), args.work, sizes, args.runs, args.previous_rev)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    section = (f"<!-- scale:start -->\nMeasured {time.strftime('%Y-%m-%d')} on {machine} with `python benchmarks/"
               f"scale.py --sizes {args.sizes} --previous-rev {args.previous_rev} --write` (parts run one at a "
               f"time, niced, on a machine shared with other work):\n\n{table(results, sizes)}\n<!-- scale:end -->")
    print(section)
    if args.write:
        write_section("scale", section)


if __name__ == "__main__":
    main()
