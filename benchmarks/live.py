"""The long-lived commands' speed, each figure next to a baseline from the same run.

    python benchmarks/live.py [--only http,watch,burst,cli,soak] [--sizes 10000,100000] [--minutes 10] [--write]

  http   `semsearch serve` on an index of N passages (SciFact text cut by the real
         tokenizer, random unit vectors so that a big index is cheap to build; each query
         is encoded by the real model): p50/p95 of 200 sequential hybrid queries from this
         process over HTTP (keep-alive), and the throughput of 8 concurrent clients; next
         to a cold `semsearch query` (a new process) on the same index.
  watch  `semsearch serve --watch` on a copy of sample_corpus/ (real model): 20 edits,
         each adding a new word to a note; edit-to-searchable = from the write until a
         lexical query over HTTP finds the word; next to a cold `semsearch index` of one edit.
  burst  `semsearch watch` (real model): 1,000 new files, then all 1,000 rewritten (new
         mtime) with 10 really changed; passages embedded, as the watch logs them.
  cli    `semsearch query` in a new process while `semsearch serve` runs on the same index
         (a copy of sample_corpus/, real model): answered through the server, next to the
         same command cold (SEMSEARCH_NO_SERVER=1) and to a bare `python -c pass`; wall and
         CPU time (user + system), medians; the two answers are checked to be identical.
  soak   `semsearch serve --watch` on a copy of sample_corpus/ (real model) for --minutes
         (default 10): a loop of edits (a note rewritten every second, each time with a new
         word) and 4 query clients (all three modes, each pausing 0.1 s between queries):
         errors (target 0) and the server's RSS at minute 1 and at the end (growth ≤ 10%).
With --write, each part's table replaces its own section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from sections import write_section  # benchmarks/ is the script folder, first on sys.path

REPO = Path(__file__).resolve().parent.parent
SCIFACT = REPO.parent / "shared" / "data" / "scifact"
SEMSEARCH = [sys.executable, "-m", "semsearch"]
QUERIES = [f"how do {w} affect {o}" for w in ("vitamins", "vaccines", "mutations", "diets", "hormones")
           for o in ("cancer risk", "the immune system", "ageing", "the heart", "memory")]


class Child:
    """A semsearch command running in the background, its stderr collected."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([*SEMSEARCH, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})
        self.lines: list[str] = []
        threading.Thread(target=lambda: [self.lines.append(x.rstrip()) for x in self.proc.stderr], daemon=True).start()

    def wait_for(self, pattern: str, after: int = 0, timeout: float = 1800) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
                if m := re.search(pattern, line):
                    return m
            if self.proc.poll() is not None:
                raise SystemExit("\n".join(self.lines))
            time.sleep(0.01)
        raise SystemExit(f"timed out waiting for {pattern!r}:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


class Client:
    """One keep-alive HTTP connection to the server."""

    def __init__(self, url: str) -> None:
        host, port = urllib.parse.urlsplit(url).netloc.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=120)

    def get(self, path: str, **params: object) -> dict:
        self.conn.request("GET", f"{path}?{urllib.parse.urlencode(params)}")
        reply = self.conn.getresponse()
        body = reply.read()
        if reply.status != 200:
            raise SystemExit(f"{reply.status}: {body[:300]!r}")
        return json.loads(body)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def synthetic_index(folder: Path, passages: int) -> int:
    """An index of about ``passages`` passages: SciFact abstracts (repeated, each copy
    numbered) cut by the real tokenizer, with random unit vectors instead of embeddings."""
    import numpy as np

    from semsearch import sync
    from semsearch.embedders import load

    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh]
    folder.mkdir(parents=True)
    n = 0
    while n * 2 < passages:  # a SciFact abstract is about two passages
        doc = docs[n % len(docs)]
        sub = folder / f"part{n // 1000:03}"
        sub.mkdir(exist_ok=True)
        (sub / f"{doc['_id']}-{n}.txt").write_text(f"{doc['title']} ({n})\n\n{doc['text']}\n", encoding="utf-8")
        n += 1

    class RandomVectors:
        def __init__(self, real):  # the real model's tokenizer, identity and prompts; vectors are random
            self.real, self.model_id, self.backend = real, real.model_id, real.backend
            self.dimension, self.max_tokens, self.token_spans = real.dimension, real.max_tokens, real.token_spans
            self.exact_at_spaces, self.token_spans_batch = real.exact_at_spaces, real.token_spans_batch

        def embed_documents(self, texts):
            seed = int.from_bytes(hashlib.blake2b("".join(texts[:1]).encode(), digest_size=8).digest(), "little")
            v = np.random.default_rng(seed).standard_normal((len(texts), self.dimension)).astype(np.float32)
            return v / np.linalg.norm(v, axis=1, keepdims=True)

    report = sync(folder, embedder_factory=lambda ref, backend: RandomVectors(load(ref, backend)))
    return report.passages


def cold_query(index: Path, runs: int = 3) -> list[float]:
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([*SEMSEARCH, "query", QUERIES[0], "--index", str(index), "-f", "paths"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
    return walls


def concurrent_load(url: str, clients: int, per_client: int) -> tuple[float, list[float]]:
    """``clients`` threads, each with its own connection, asking ``per_client`` queries: wall time, latencies."""
    latencies: list[float] = []

    def worker(k: int) -> None:
        c = Client(url)
        for i in range(per_client):
            t = time.perf_counter()
            c.get("/query", q=QUERIES[(k * 7 + i) % len(QUERIES)])
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies


def bench_http(tmp: Path, sizes: list[int]) -> list[tuple[str, str, str]]:
    rows = []
    for size in sizes:
        folder = tmp / f"corpus-{size}"
        start = time.perf_counter()
        passages = synthetic_index(folder, size)
        built = time.perf_counter() - start
        cold = cold_query(folder)
        server = Child("serve", str(folder), "--port", "0")
        try:
            url = server.wait_for(r"at (http://\S+)").group(1)
            client = Client(url)
            for q in QUERIES[:5]:
                client.get("/query", q=q)  # warm-up: first queries, vectors loaded
            lat = []
            for i in range(200):
                t = time.perf_counter()
                client.get("/query", q=QUERIES[i % len(QUERIES)])
                lat.append(time.perf_counter() - t)
            clients, per_client = 8, 40
            wall, concurrent_lat = concurrent_load(url, clients, per_client)
        finally:
            server.stop()
        cold_med = statistics.median(cold)
        rows.append((f"warm HTTP query, {passages:,} passages (hybrid, top 10; 200 sequential)",
                     f"p50 {statistics.median(lat) * 1000:.1f} ms, p95 {percentile(lat, 0.95) * 1000:.1f} ms",
                     (f"cold `semsearch query` on the same index: {cold_med:.2f} s (median of 3: "
                      + ", ".join(f"{c:.2f}" for c in cold)
                      + f"), {cold_med / statistics.median(lat):.0f}× the warm p50")))
        rows.append((f"8 concurrent clients, {passages:,} passages ({clients * per_client} queries)",
                     f"{clients * per_client / wall:.1f} queries/s",
                     (f"p50 {statistics.median(concurrent_lat) * 1000:.0f} ms, p95 "
                      f"{percentile(concurrent_lat, 0.95) * 1000:.0f} ms per query; sequential: "
                      f"{1 / statistics.mean(lat):.1f} queries/s; index built in {built:.0f} s")))
    return rows


def bench_watch(tmp: Path, edits: int = 20) -> list[tuple[str, str, str]]:
    folder = tmp / "sample"
    shutil.copytree(REPO / "sample_corpus", folder)
    subprocess.run([*SEMSEARCH, "index", str(folder)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    notes = sorted(p for p in folder.rglob("*.md") if ".semsearch" not in p.parts)
    server = Child("serve", str(folder), "--port", "0", "--watch")
    try:
        client = Client(server.wait_for(r"at (http://\S+)").group(1))
        client.get("/query", q="warm up")
        latencies = []
        for i in range(edits):
            word = f"zebrafinch{i}x{os.getpid()}"
            note = notes[i % len(notes)]
            start = time.perf_counter()
            with open(note, "a", encoding="utf-8") as fh:
                fh.write(f"\nA new line about {word}.\n")
            while not client.get("/query", q=word, mode="lexical", top_k=1)["results"]:
                time.sleep(0.02)
            latencies.append(time.perf_counter() - start)
            time.sleep(0.3)
    finally:
        server.stop()
    with open(notes[0], "a", encoding="utf-8") as fh:
        fh.write("\nOne more edit.\n")
    start = time.perf_counter()
    subprocess.run([*SEMSEARCH, "index", str(folder)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cold = time.perf_counter() - start
    return [(f"`serve --watch`: edit to searchable ({edits} edits of sample_corpus notes, real model)",
             f"p50 {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s",
             (f"a cold `semsearch index` of one edit (new process, loads the model): {cold:.2f} s; all: "
              + ", ".join(f"{x:.2f}" for x in latencies)))]


def bench_burst(tmp: Path) -> list[tuple[str, str, str]]:
    folder = tmp / "burst"
    folder.mkdir()
    (folder / "start.md").write_text("The first note.\n")
    watch = Child("watch", str(folder))
    try:
        watch.wait_for(r"indexed ")
        mark = len(watch.lines)
        start = time.perf_counter()
        for i in range(1000):
            (folder / f"note-{i:04}.md").write_text(f"Note {i}: a short note about subject {i % 41}.\n")
        watch.wait_for(r"updated .*: 1001 files", after=mark)
        first = time.perf_counter() - start
        runs = sum(1 for line in watch.lines[mark:] if re.search(r"updated .*files", line))
        embedded1 = sum(int(m.group(1)) for line in watch.lines[mark:] if (m := re.search(r"\((\d+) embedded", line)))
        mark = len(watch.lines)
        for i in range(1000):
            p = folder / f"note-{i:04}.md"
            p.write_text(p.read_text() + ("Changed.\n" if i % 100 == 0 else ""))
            os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10**9))
        (folder / "zz-last.md").write_text("The last note.\n")
        watch.wait_for(r"added zz-last\.md", after=mark)
        watch.wait_for(r"updated .*: 1002 files", after=mark)
        embedded2 = sum(int(m.group(1)) for line in watch.lines[mark:] if (m := re.search(r"\((\d+) embedded", line)))
    finally:
        watch.stop()
    return [("`watch`: 1,000 new files at once", f"{embedded1} passages embedded in {runs} runs",
             f"caught up {first:.1f} s after the first write (one passage per note)"),
            ("`watch`: all 1,000 rewritten, 10 really changed, 1 added", f"{embedded2} passages embedded",
             "only changed content is embedded (expected 11: the ten changed notes and the new one)")]


def timed(command: list[str], runs: int, cwd: Path, **env: str) -> tuple[list[float], list[float], bytes]:
    """Wall and CPU (user + system) seconds of ``runs`` runs of ``command``, and its last stdout."""
    import resource

    walls, cpus, out = [], [], b""
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        out = subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             env={**os.environ, **env}).stdout
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus, out


def bench_cli(tmp: Path, runs: int = 20) -> list[tuple[str, str, str]]:
    folder = tmp / "sample"
    shutil.copytree(REPO / "sample_corpus", folder)
    subprocess.run([*SEMSEARCH, "index", str(folder)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    query = [*SEMSEARCH, "query", "how do I keep a sourdough starter alive", "-f", "json"]
    bare = timed([sys.executable, "-c", "pass"], runs, folder)
    cold = timed(query, 5, folder, SEMSEARCH_NO_SERVER="1")
    server = Child("serve", str(folder), "--port", "0")
    try:
        client = Client(server.wait_for(r"at (http://\S+)").group(1))
        timed(query, 2, folder)  # the server's first queries (its model warms up)
        warm = timed(query, runs, folder)
        answers = []
        for _ in range(runs):  # the server's own part: the same query over a kept-alive connection
            start = time.perf_counter()
            client.get("/query", q=query[3])
            answers.append(time.perf_counter() - start)
    finally:
        server.stop()
    if warm[2] != cold[2]:
        raise SystemExit("the answer through the server differs from the local one")

    def cell(t: tuple[list[float], list[float], bytes]) -> str:
        return f"{statistics.median(t[0]):.3f} s wall, {statistics.median(t[1]):.3f} s CPU"

    return [(f"`semsearch query` in a new process, answered by a running `serve` (sample_corpus, real model; "
             f"median of {runs})", cell(warm) + f", p95 wall {percentile(warm[0], 0.95):.3f} s",
             f"cold, the same command alone (median of 5): {cell(cold)}, "
             f"{statistics.median(cold[0]) / statistics.median(warm[0]):.0f}× the wall through the server; "
             f"a bare `python -c pass`: {cell(bare)}; the server's own answer (HTTP from a warm client): "
             f"{statistics.median(answers):.3f} s median; the answers are identical")]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024


def bench_soak(tmp: Path, minutes: float) -> list[tuple[str, str, str]]:
    folder = tmp / "sample"
    shutil.copytree(REPO / "sample_corpus", folder)
    subprocess.run([*SEMSEARCH, "index", str(folder)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    notes = sorted(p for p in folder.rglob("*.md") if ".semsearch" not in p.parts)
    originals = {p: p.read_text(encoding="utf-8") for p in notes}
    server = Child("serve", str(folder), "--port", "0", "--watch")
    url = server.wait_for(r"at (http://\S+)").group(1)
    Client(url).get("/query", q="warm up")
    stop = threading.Event()
    counts = {"queries": 0, "errors": 0, "edits": 0}
    errors: list[str] = []
    rss: list[tuple[float, float]] = []

    def ask(k: int) -> None:
        client, i = Client(url), 0
        while not stop.is_set():
            mode = ("hybrid", "dense", "lexical")[i % 3]
            try:
                client.get("/query", q=QUERIES[(k * 7 + i) % len(QUERIES)], mode=mode)
                counts["queries"] += 1
            except (SystemExit, OSError, ValueError, http.client.HTTPException) as exc:
                counts["errors"] += 1
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                client = Client(url)
            i += 1
            stop.wait(0.1)

    def edit() -> None:
        i = 0
        while not stop.is_set():
            note = notes[i % len(notes)]
            note.write_text(originals[note] + f"\nA soak line about quokka{i}x{os.getpid()}.\n", encoding="utf-8")
            counts["edits"] += 1
            i += 1
            stop.wait(1.0)

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(4)] + [threading.Thread(target=edit)]
    start = time.monotonic()
    for t in threads:
        t.start()
    try:
        while (elapsed := time.monotonic() - start) < minutes * 60:
            rss.append((elapsed, rss_mb(server.proc.pid)))
            if server.proc.poll() is not None:
                errors.append(f"the server exited {server.proc.returncode}")
                break
            time.sleep(10)
        stop.set()
        for t in threads:
            t.join()
        # the last edit is searchable once the watch has caught up
        word = f"quokka{counts['edits'] - 1}x{os.getpid()}"
        deadline = time.monotonic() + 120
        caught_up = False
        while not caught_up and time.monotonic() < deadline:
            caught_up = bool(Client(url).get("/query", q=word, mode="lexical", top_k=1)["results"])
            time.sleep(0.2)
        rss.append((time.monotonic() - start, rss_mb(server.proc.pid)))
    finally:
        stop.set()
        server.stop()
    at_1 = next(mb for t, mb in rss if t >= 60) if any(t >= 60 for t, _ in rss) else rss[0][1]
    end = rss[-1][1]
    updates = sum(1 for line in server.lines if re.search(r"updated ", line))
    return [(f"soak: `serve --watch`, {minutes:g} min, 4 query clients + 1 edit/s (sample_corpus, real model)",
             f"{counts['errors']} errors in {counts['queries']:,} queries",
             f"{counts['edits']} edits, {updates} index updates logged; the last edit searchable after the loop: "
             f"{'yes' if caught_up else 'NO'}" + (f"; first errors: {errors[:3]}" if errors else "")
             + ("" if caught_up else f"; the server's last lines: {server.lines[-5:]}")),
            ("soak: the server's RSS, minute 1 → end", f"{at_1:.0f} MB → {end:.0f} MB ({(end / at_1 - 1) * 100:+.1f}%)",
             "samples every 10 s: min " + f"{min(mb for _, mb in rss):.0f} MB, max {max(mb for _, mb in rss):.0f} MB; "
             f"at start {rss[0][1]:.0f} MB")]


PARTS = ("http", "watch", "burst", "cli", "soak")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PARTS))
    parser.add_argument("--sizes", default="10000", help="index sizes (passages) for the http part, comma-separated")
    parser.add_argument("--minutes", type=float, default=10, help="how long the soak part runs")
    parser.add_argument("--write", action="store_true", help="update this script's section of BENCHMARKS.md")
    args = parser.parse_args()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    for part in [p for p in PARTS if p in args.only.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            rows = {"http": lambda: bench_http(Path(tmp), [int(s) for s in args.sizes.split(",")]),
                    "watch": lambda: bench_watch(Path(tmp)), "burst": lambda: bench_burst(Path(tmp)),
                    "cli": lambda: bench_cli(Path(tmp)), "soak": lambda: bench_soak(Path(tmp), args.minutes)}[part]()
        table = "| measure | result | next to its baseline |\n|---|---|---|\n" + "\n".join(
            f"| {a} | {b} | {c} |" for a, b, c in rows)
        sizes = {"http": f" --sizes {args.sizes}", "soak": f" --minutes {args.minutes:g}"}.get(part, "")
        section = (f"<!-- live-{part}:start -->\nMeasured {time.strftime('%Y-%m-%d')} on {machine} (shared with "
                   f"other jobs: load average {os.getloadavg()[0]:.1f} at the end) with "
                   f"`python benchmarks/live.py --only {part}{sizes} --write`:\n\n{table}\n<!-- live-{part}:end -->")
        print(section, flush=True)
        if args.write:
            write_section(f"live-{part}", section)


if __name__ == "__main__":
    main()
