"""This checkout against another one (e.g. the previous main), side by side in one run.

    python benchmarks/versus.py OTHER_CHECKOUT [--runs 5] [--docs 300]

Both run as new processes with their own ``PYTHONPATH``, alternating (other, this, other,
this...) so that a busy machine slows both alike, sharing one ONNX cache:

  cold     `semsearch query` on an indexed copy of sample_corpus/: wall and CPU seconds,
           peak RSS (median of --runs);
  index    `semsearch index` of --docs SciFact documents (one file each) from nothing:
           passages per CPU second and per wall second (median of --runs).

Prints a Markdown table of medians and this/other ratios. CPU seconds are the steadier
figure on a shared machine; wall seconds are shown too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCIFACT = REPO.parent / "shared" / "data" / "scifact"
QUERY = "stop server journals from filling up the drive"


def side_env(checkout: Path, cache: Path) -> dict[str, str]:
    """The environment of a child run of one side: its checkout first on the path, the cache."""
    return {**os.environ, "PYTHONPATH": str(checkout), "SEMSEARCH_CACHE_DIR": str(cache), "NO_COLOR": "1"}


def child(checkout: Path, args: list[str], cache: Path) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds, peak RSS (MB) and stdout of ``semsearch ARGS`` run from ``checkout``."""
    import time

    env = side_env(checkout, cache)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "semsearch", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env, cwd=checkout)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"semsearch {' '.join(args)} from {checkout} failed")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, out


def scifact_folder(folder: Path, docs: int) -> None:
    folder.mkdir(parents=True)
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if n >= docs:
                break
            doc = json.loads(line)
            (folder / f"{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("other", type=Path, help="the other checkout (a git worktree of the previous main)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--docs", type=int, default=300)
    opts = parser.parse_args()
    sides = {"other": opts.other.resolve(), "this": REPO}
    cold: dict[str, list[tuple[float, float, int]]] = {s: [] for s in sides}
    index: dict[str, list[tuple[float, float, int]]] = {s: [] for s in sides}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        corpora = {}
        for side, checkout in sides.items():  # one indexed sample corpus each, made by that side
            corpora[side] = Path(tmp) / side / "sample_corpus"
            shutil.copytree(REPO / "sample_corpus", corpora[side], ignore=shutil.ignore_patterns(".semsearch*"))
            child(checkout, ["index", str(corpora[side])], cache)
        for _ in range(opts.runs):
            for side, checkout in sides.items():
                cold[side].append(child(checkout, ["query", QUERY, "--index", str(corpora[side]), "-f", "json"],
                                        cache)[:3])
                folder = Path(tmp) / f"scifact-{side}"
                shutil.rmtree(folder, ignore_errors=True)
                scifact_folder(folder, opts.docs)
                wall, cpu, rss, out = child(checkout, ["index", str(folder), "-f", "json"], cache)
                passages = json.loads(out)["passages"]
                index[side].append((passages / wall, passages / cpu, rss))

    def med(rows: list[tuple[float, float, int]], i: int) -> float:
        return statistics.median(r[i] for r in rows)

    print(f"| figure (median of {opts.runs}) | other | this | this / other |\n|---|---|---|---|")
    for name, rows, i, unit in (("cold query wall", cold, 0, "s"), ("cold query CPU", cold, 1, "s"),
                                ("cold query peak RSS", cold, 2, "MB"), ("index passages / wall s", index, 0, ""),
                                ("index passages / CPU s", index, 1, ""), ("index peak RSS", index, 2, "MB")):
        a, b = med(rows["other"], i), med(rows["this"], i)
        print(f"| {name} | {a:.2f} {unit} | {b:.2f} {unit} | {b / a:.2f}× |")


if __name__ == "__main__":
    main()
