"""The indexing pipeline (issue #17, item 2) against another checkout (the previous main),
side by side in one run.

    python benchmarks/pipeline.py OTHER_CHECKOUT [--docs 1000] [--runs 2] [--prose 2000 --prose-seconds 300]

Each run alternates the sides (other, this): ``semsearch index`` of --docs SciFact
documents (one file each, from nothing, default backend) as a new process with that
side's ``PYTHONPATH`` (wall and CPU seconds, peak RSS); then the bare encode of exactly
the passages that index holds, with that side's own embedder (``embed_documents`` of all
of them in one call, batch 32, a new process, the encode alone timed, as
``benchmarks/perf.py`` does). Index passages/s over bare-encode passages/s is the
pipeline's efficiency. With --prose N, each side also indexes N text files made from
Python's own documentation (``pydoc`` plain text of standard-library and numpy modules,
classes and functions, 2–80 KB each): peak RSS, stopped with SIGINT (Ctrl-C; it keeps what was
committed) after --prose-seconds if not done, with the passages embedded by then.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pydoc
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from progressive import side_by_side  # noqa: E402
from versus import scifact_folder, side_env  # noqa: E402

SKIP = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "ensurepip", "lib2to3", "test", "pydoc",
        "__main__", "venv", "webbrowser", "xxlimited", "xxlimited_35", "xxsubtype",
        "tests", "testing", "f2py", "distutils", "conftest"}  # (parts of a module's dotted name)


def index(checkout: Path, folder: Path, cache: Path, stop_after: float = 0) -> dict[str, float]:
    """Wall, CPU seconds and peak RSS (MB) of ``semsearch index FOLDER``; SIGINT after ``stop_after`` s."""
    started = time.perf_counter()
    proc = subprocess.Popen(["nice", "-n", "10", sys.executable, "-m", "semsearch", "index", str(folder), "-f", "json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=side_env(checkout, cache),
                            cwd=checkout, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # (a background shell starts us with SIGINT ignored, and the child would inherit that)
    status = usage = None
    while status is None:
        pid, code, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status, usage = code, ru
        elif stop_after and time.perf_counter() - started > stop_after:
            os.kill(proc.pid, signal.SIGINT)
            stop_after = 0
        else:
            time.sleep(0.2)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 130):
        raise SystemExit(f"index from {checkout} failed ({code})")
    catalog = folder / ".semsearch" / "catalog.sqlite"
    passages = embedded = 0
    if catalog.exists():  # stopped before its first commit: none
        with sqlite3.connect(catalog) as db:
            passages, embedded = db.execute(  # a passage waiting for its vector holds x'', not NULL
                "SELECT count(*), count(*) FILTER (WHERE length(vector) > 0) FROM chunks").fetchone()
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024,
            "passages": passages, "embedded": embedded, "finished": float(code == 0)}


def bare_encode(checkout: Path, texts: list[str], cache: Path) -> tuple[float, float]:
    """Wall and CPU seconds of that side's embedder encoding ``texts`` (the encode alone)."""
    script = ("import json, sys, time\ntexts = json.load(sys.stdin)\n"
              "from semsearch.embedders import load, resolve_model\n"
              "e = load(resolve_model('all-MiniLM-L6-v2'), 'onnx', batch_size=32)\n"
              "w, c = time.perf_counter(), time.process_time(); e.embed_documents(texts)\n"
              "print(time.perf_counter() - w, time.process_time() - c)\n")
    done = subprocess.run(["nice", "-n", "10", sys.executable, "-c", script], input=json.dumps(texts),
                          capture_output=True, text=True, check=True, env=side_env(checkout, cache), cwd=checkout)
    wall, cpu = done.stdout.split()[-2:]
    return float(wall), float(cpu)


def prose_folder(folder: Path, n: int) -> int:
    """Up to ``n`` files of plain-text Python documentation, 2–80 KB each; returns how many:
    the standard library's modules and their submodules, then numpy's (a dependency), each
    module and each of its own functions and classes one file."""
    import importlib
    import pkgutil

    def imported(name: str) -> object | None:
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                return importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module this platform lacks
            return None

    def skipped(name: str) -> bool:
        return any(part in SKIP or part.startswith("_") for part in name.split("."))

    names = []
    for top in [*sorted(sys.stdlib_module_names), "numpy"]:
        module = None if skipped(top) else imported(top)
        if module is None:
            continue
        names.append(top)
        if hasattr(module, "__path__"):
            names += [m.name for m in pkgutil.walk_packages(module.__path__, top + ".") if not skipped(m.name)]
    folder.mkdir(parents=True)
    count = 0
    for name in names:
        module = imported(name)
        if module is None or count >= n:
            continue
        members = [getattr(module, a) for a in sorted(vars(module)) if not a.startswith("_")]
        objects = [module] + [m for m in members if callable(m) and getattr(m, "__module__", "") == name]
        for obj in objects:
            try:
                text = pydoc.render_doc(obj, renderer=pydoc.plaintext)
            except Exception:  # noqa: BLE001
                continue
            if 2_000 <= len(text) <= 80_000 and count < n:
                (folder / f"{count:05}-{name}.{getattr(obj, '__name__', 'x')}.txt").write_text(text, encoding="utf-8")
                count += 1
    return count


def main() -> None:
    def prose_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--prose", type=int, default=0)
        parser.add_argument("--prose-seconds", type=float, default=0)

    opts, sides, rows = side_by_side(__doc__, 2, prose_options)
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(opts.runs if opts.docs else 0):
            for side, checkout in sides.items():
                folder = Path(tmp) / f"{side}-{run}"
                scifact_folder(folder, opts.docs)
                row = index(checkout, folder, opts.cache)
                with sqlite3.connect(folder / ".semsearch" / "catalog.sqlite") as db:
                    texts = [r[0] for r in db.execute("SELECT text FROM chunks ORDER BY id")]
                row["bare_wall"], row["bare_cpu"] = bare_encode(checkout, texts, opts.cache)
                row["ratio"] = (row["passages"] / row["wall"]) / (len(texts) / row["bare_wall"])
                rows[side].append(row)
                print(side, {k: round(v, 2) for k, v in row.items()}, flush=True)
        prose: dict[str, dict[str, float]] = {}
        if opts.prose:
            made = prose_folder(Path(tmp) / "prose", opts.prose)
            print(f"prose files: {made}", flush=True)
            for side, checkout in sides.items():
                folder = Path(tmp) / f"prose-{side}"
                subprocess.run(["cp", "-r", str(Path(tmp) / "prose"), str(folder)], check=True)
                prose[side] = index(checkout, folder, opts.cache, opts.prose_seconds)
                print("prose", side, {k: round(v, 2) for k, v in prose[side].items()}, flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}\n")
    if rows["this"]:
        print(f"| {opts.docs} SciFact files, mean of {opts.runs} (ABAB) | previous main | this | this / previous |\n"
              "|---|---|---|---|")
        for key, name in (("wall", "full index, wall (s)"), ("cpu", "full index, CPU (s)"),
                          ("rss", "peak RSS (MB)"), ("passages", "passages"),
                          ("bare_wall", "bare encode of the same passages, wall (s)"),
                          ("bare_cpu", "bare encode, CPU (s)"), ("ratio", "index passages/s ÷ bare encode's")):
            a = sum(r[key] for r in rows["other"]) / len(rows["other"])
            b = sum(r[key] for r in rows["this"]) / len(rows["this"])
            print(f"| {name} | {a:.2f} | {b:.2f} | {b / a:.2f}× |")
    for side, row in prose.items():
        print(f"prose, {side}: peak RSS {row['rss']:.0f} MB; {row['embedded']:.0f} of {row['passages']:.0f} passages "
              f"embedded in {row['wall']:.0f} s ({'finished' if row['finished'] else 'stopped with SIGINT'})")


if __name__ == "__main__":
    main()
