"""The text phase of ``index`` alone (walk, read, chunk, commit the text; no embedding),
against another checkout (the previous main), side by side in one run.

    python benchmarks/text_phase.py OTHER_CHECKOUT [--docs 5183] [--runs 2]

Each side, alternating (other, this, ...), indexes a fresh copy of --docs SciFact
documents (one file each) in a child process with its own ``PYTHONPATH``, in which the
embedding phase is replaced by nothing; reported per side: wall and CPU seconds of
``semsearch.sync`` (loading the model's tokenizer included, the interpreter's start not).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from progressive import marked_folder, side_by_side
from versus import side_env

CHILD = """
import json, sys, time
import semsearch.indexing.writer as writer
writer.embed_pending = lambda *args, **kwargs: None  # the text phase only
from semsearch import sync
wall, cpu = time.perf_counter(), time.process_time()
report = sync(sys.argv[1])
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "files": len(report.added)}))
"""


def main() -> None:
    opts, sides, rows = side_by_side(__doc__, 2)
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(opts.runs):
            for side, checkout in sides.items():
                folder = Path(tmp) / f"{side}-{run}"
                marked_folder(folder, opts.docs)
                env = side_env(checkout, opts.cache)
                out = subprocess.run([sys.executable, "-c", CHILD, str(folder)], env=env, cwd=checkout, check=True,
                                     capture_output=True, text=True).stdout
                rows[side].append(json.loads(out.splitlines()[-1]))
                print(side, rows[side][-1], flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}\n")
    print(f"| text phase, {opts.docs} SciFact files + 1 | other | this | this / other |\n|---|---|---|---|")
    for key in ("wall", "cpu"):
        a, b = (sum(r[key] for r in rows[s]) / opts.runs for s in ("other", "this"))
        print(f"| {key} (s) | {a:.2f} | {b:.2f} | {b / a:.2f}× |")


if __name__ == "__main__":
    main()
