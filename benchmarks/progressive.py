"""Progressive indexing against another checkout (the previous main), side by side in one run.

    python benchmarks/progressive.py OTHER_CHECKOUT [--docs 1000] [--runs 1]
    python benchmarks/progressive.py --searchable-only [--docs 5183] [--runs 3]

For each side, alternating (other, this, ...), ``semsearch index`` of --docs SciFact
documents (one file each, from nothing) runs as a new process with its own
``PYTHONPATH``; a watcher polls the catalog (read-only, every 0.1 s) for a word found
only in the file the walk reaches last, and records when it is first committed: from
then on ``semsearch query WORD --mode lexical`` finds it (checked once, with the real
command line, after the run). Reported per side: seconds until that last file is
lexically searchable, seconds and CPU seconds of the whole run, peak RSS, passages.

With ``--searchable-only`` only this checkout runs, and each run is interrupted (Ctrl-C,
which keeps what was committed) as soon as the last file is searchable: the time to
search a folder too large for a side-by-side full index in one sitting (the whole SciFact
folder). The marker is then looked up with the real command line, as above.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from versus import scifact_folder, side_env  # noqa: E402

MARKER = "zyxquokkaflint"  # in no SciFact document


def marked_folder(folder: Path, docs: int) -> None:
    """``docs`` SciFact documents, one file each, and the file the walk reaches last, with the marker."""
    scifact_folder(folder, docs)
    (folder / "zzzz-last.txt").write_text(f"The last file the walk reaches: {MARKER}.\n")


def searchable_at(catalog: Path, started: float, done: threading.Event, out: list[float]) -> None:
    while not done.is_set():
        try:
            with sqlite3.connect(f"{catalog.as_uri()}?mode=ro", uri=True, timeout=1) as db:
                if db.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (MARKER,)).fetchone()[0]:
                    out.append(time.perf_counter() - started)
                    return
        except sqlite3.Error:
            pass
        time.sleep(0.1)


def one(checkout: Path, folder: Path, cache: Path, stop_when_searchable: bool = False) -> dict[str, float]:
    env = side_env(checkout, cache)
    done, seen = threading.Event(), []
    started = time.perf_counter()
    proc = subprocess.Popen(["nice", "-n", "10", sys.executable, "-m", "semsearch", "index", str(folder), "-f", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=checkout)
    watcher = threading.Thread(target=searchable_at, args=(folder / ".semsearch" / "catalog.sqlite", started, done,
                                                           seen))
    watcher.start()
    if stop_when_searchable:
        while proc.poll() is None and not seen:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    watcher.join()
    if os.waitstatus_to_exitcode(status) not in ((0, 130) if stop_when_searchable else (0,)):
        raise SystemExit(f"index from {checkout} failed")
    query = subprocess.run([sys.executable, "-m", "semsearch", "query", MARKER, "--mode", "lexical", "--index",
                            str(folder), "-f", "json"], capture_output=True, text=True, env=env, cwd=checkout)
    found = [h["path"] for h in json.loads(query.stdout)] if query.returncode == 0 else []
    return {"searchable": seen[0] if seen else float("nan"), "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "rss": usage.ru_maxrss / 1024, "passages": json.loads(out)["passages"] if out else float("nan"),
            "found": float(len(found))}


def side_by_side(doc: str, runs: int, more: Callable[[argparse.ArgumentParser], None] = lambda _: None
                 ) -> tuple[argparse.Namespace, dict[str, Path], dict[str, list[dict[str, float]]]]:
    """The options of a script comparing this checkout with OTHER (--docs, --runs, --cache),
    its two sides and their empty rows; prints the load average. OTHER may be left out only
    where ``more`` adds a ``--searchable-only`` flag and it is given (this side alone)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("other", type=Path, nargs="?")
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("SEMSEARCH_CACHE_DIR", "")))
    more(parser)
    opts = parser.parse_args()
    if opts.other is None and not getattr(opts, "searchable_only", False):
        parser.error("give the other checkout (a worktree at the previous main)")
    sides = {"other": opts.other.resolve(), "this": REPO} if opts.other else {"this": REPO}
    print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
    return opts, sides, {s: [] for s in sides}


def main() -> None:
    opts, sides, rows = side_by_side(__doc__, 1, lambda p: p.add_argument("--searchable-only", action="store_true"))
    if opts.searchable_only:
        return searchable_only(opts.docs, opts.runs, opts.cache)
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(opts.runs):
            for side, checkout in sides.items():
                folder = Path(tmp) / f"{side}-{run}"
                marked_folder(folder, opts.docs)
                rows[side].append(one(checkout, folder, opts.cache))
                print(side, rows[side][-1], flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}\n")
    print(f"| {opts.docs} SciFact files + 1 | other | this | this / other |\n|---|---|---|---|")
    for key, name in (("searchable", "last file lexically searchable (s)"), ("wall", "full index, wall (s)"),
                      ("cpu", "full index, CPU (s)"), ("rss", "peak RSS (MB)"), ("passages", "passages")):
        a = sum(r[key] for r in rows["other"]) / opts.runs
        b = sum(r[key] for r in rows["this"]) / opts.runs
        print(f"| {name} | {a:.1f} | {b:.1f} | {b / a:.2f}× |")
    b_search = sum(r["searchable"] for r in rows["this"]) / opts.runs
    a_full = sum(r["wall"] for r in rows["other"]) / opts.runs
    print(f"| this side's searchable time / other side's full index | | | {b_search / a_full:.2f}× |")


def searchable_only(docs: int, runs: int, cache: Path) -> None:
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            folder = Path(tmp) / f"this-{run}"
            marked_folder(folder, docs)
            row = one(REPO, folder, cache, stop_when_searchable=True)
            print(row, flush=True)
            if row["found"] != 1:
                raise SystemExit("the marker was not found by `semsearch query` after the interrupted run")
            times.append(row["searchable"])
    print(f"load average after: {os.getloadavg()[0]:.1f}\n")
    print(f"{docs} SciFact files + 1: last file lexically searchable after "
          f"{', '.join(f'{t:.1f}' for t in times)} s (median {sorted(times)[len(times) // 2]:.1f} s)")


if __name__ == "__main__":
    main()
