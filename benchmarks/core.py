"""Core timings of semsearch on sample_corpus/, each next to a baseline from the same run.

    python benchmarks/core.py [--runs 5] [--write]

Measures, in new processes (what a user at a shell pays):
  1. `semsearch index` of a fresh copy of sample_corpus/ (from scratch);
  2. `semsearch index` again with nothing changed;
  3. one cold `semsearch query` (median of --runs);
and, as the baseline that dominates 1 and 3 on CPU, `python -c "import sentence_transformers"`
(median of --runs). With --write, the table replaces the "core" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEMSEARCH = [sys.executable, "-m", "semsearch"]
QUERY = "stop server journals from filling up the drive"


def timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout


def median_of(runs: int, cmd: list[str]) -> list[float]:
    return [timed(cmd)[0] for _ in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "sample_corpus"
        shutil.copytree(REPO / "sample_corpus", corpus)
        index_s, report = timed(SEMSEARCH + ["index", str(corpus), "--format", "json"])
        report = json.loads(report)
        reindex_s, again = timed(SEMSEARCH + ["index", str(corpus), "--format", "json"])
        assert json.loads(again)["passages_embedded"] == 0
        query = median_of(args.runs, SEMSEARCH + ["query", QUERY, "--index", str(corpus), "-k", "3"])
    imports = median_of(args.runs, [sys.executable, "-c", "import sentence_transformers"])

    q, base = statistics.median(query), statistics.median(imports)
    rows = [
        ("index sample_corpus from scratch", f"{index_s:.2f} s",
         f"{report['files']} files, {report['passages']} passages, {report['passages'] / index_s:.1f} passages/s overall"),
        ("re-index, nothing changed", f"{reindex_s:.2f} s", "model not loaded; every file costs a stat"),
        (f"cold `semsearch query` (median of {args.runs})", f"{q:.2f} s",
         f"{q / base:.2f}× the import baseline; runs: {', '.join(f'{x:.2f}' for x in query)}"),
        (f"baseline: `import sentence_transformers` (median of {args.runs})", f"{base:.2f} s",
         ", ".join(f"{x:.2f}" for x in imports)),
    ]
    table = "| measure | time | notes |\n|---|---|---|\n" + "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    section = (
        "<!-- core:start -->\n"
        f"Measured {time.strftime('%Y-%m-%d')} on {machine} with `python benchmarks/core.py --runs {args.runs} --write`:\n\n"
        f"{table}\n<!-- core:end -->"
    )
    print(section)
    if args.write:
        path = REPO / "BENCHMARKS.md"
        text = path.read_text() if path.exists() else "# Benchmarks\n\n## Core\n\n<!-- core:start -->\n<!-- core:end -->\n"
        start, end = text.index("<!-- core:start -->"), text.index("<!-- core:end -->") + len("<!-- core:end -->")
        path.write_text(text[:start] + section + text[end:])


if __name__ == "__main__":
    main()
