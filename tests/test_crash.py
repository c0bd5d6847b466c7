"""Crash safety and concurrency: the real ``semsearch index`` in a child process,
killed (SIGKILL) at every named point of a run and at random moments.

After every kill, ``info`` and ``query`` answer from a committed state (every indexed
file holds exactly the passages and vectors of one version of it that really existed,
and vectors.faiss agrees with the catalog), or say cleanly that there is no index yet;
the next run then ends with exactly the files, passages, vectors and results of an
uninterrupted run. The child (tests/crash_child.py) uses the fast fake embedder, so a
kill costs about a second; the tests that run children are still ``slow`` (out of the
fast tier). The default run does the short version; the long one, with many random
kills and a real-model kill, runs by hand: ``pytest -m crash_long``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import semsearch.embedders
from semsearch import Index, sync
from semsearch.chunking import chunk_text
from semsearch.cli import app
from semsearch.corpus import read_document, walk
from semsearch.embedders import ModelRef
from semsearch.errors import IndexNotFoundError
from semsearch.storage import codec

from .conftest import copy_sample, notices
from .fakes import FakeEmbedder, FakeFactory, fake_loader

CHILD = Path(__file__).with_name("crash_child.py")
COMMIT_EVERY = 8  # passages per committed batch in the child: the sample corpus commits ~30 times
QUERIES = ["what to do with kitchen scraps and fallen leaves", "training for a race", "bread dough"]
FAKE = FakeEmbedder(ModelRef("fake", Path(".")))
KILLS: dict[str, int] = defaultdict(int)  # kill point -> kills that happened there (reported at the end)


def child(*args: str, action: tuple[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the command line in a child; ``action`` is e.g. ("--kill", "commit:3")."""
    extra = list(action) if action else []
    env = {**os.environ, "SEMSEARCH_TEST_COMMIT_EVERY": str(COMMIT_EVERY), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, str(CHILD), *extra, "--", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def kill_at(root: Path, point: str, *args: str) -> bool:
    """Run ``index`` and SIGKILL it at ``point``; False if the run finished first."""
    result = child("index", root, *args, action=("--kill", point))
    if result.returncode == -signal.SIGKILL:
        KILLS[point.split(":")[0]] += 1
        return True
    assert result.returncode == 0, result.stderr
    return False


class Corpus:
    """A copy of sample_corpus/ that tests edit, remembering every version of every file."""

    def __init__(self, root: Path) -> None:
        self.root = copy_sample(root)
        self.versions: dict[str, dict[str, str]] = defaultdict(dict)  # path -> digest -> text
        self.record()

    def record(self) -> None:
        for entry in walk(self.root):
            doc = read_document(entry)
            self.versions[doc.path][doc.digest] = doc.text

    def mutate(self, rng: random.Random, edits: int = 4, deletes: int = 2, adds: int = 3) -> None:
        files = sorted(p for p in self.root.rglob("*.md") if ".semsearch" not in p.parts)
        for path in rng.sample(files, edits + deletes)[:edits]:
            addendum = f"\nAddendum {rng.random():.6f}: compost the leaves, rest before racing.\n"
            path.write_text(path.read_text() + addendum)
        for path in rng.sample(files, edits + deletes)[edits:]:
            path.unlink(missing_ok=True)
        for i in range(adds):
            vocabulary = ["bread", "race", "leaves", "tea", "kyoto", "logs", "sleep"]
            words = " ".join(rng.choice(vocabulary) for _ in range(300))
            (self.root / f"new-{rng.randrange(10**6)}-{i}.md").write_text(f"# New note {i}\n\n{words}\n")
        self.record()

    def reference(self, tmp: Path, **settings: object) -> dict:
        """The state an uninterrupted run gives on the corpus as it is now."""
        copy = tmp / f"reference-{len(list(tmp.glob('reference-*')))}"
        shutil.copytree(self.root, copy, ignore=shutil.ignore_patterns(".semsearch*"))
        sync(copy, embedder_factory=FakeFactory(), **settings)
        return snapshot(copy)


def snapshot(root: Path) -> dict:
    """Everything a reader can get from an index: files, passages, vectors, results."""
    with Index(root, embedder_factory=FakeFactory()) as idx, notices() as told:
        store = idx.store.catalog
        files = {p: (r.digest, r.skipped) for p, r in store.files().items()}
        passages = {}
        for path in files:
            ids, vectors = store.file_vectors(path)
            rows = store.passages(ids)
            passages[path] = ([(rows[i].ordinal, rows[i].start_line, rows[i].end_line, rows[i].text) for i in ids],
                              vectors.tobytes())
        # Every passage ranked (so ties cannot fall differently across a cut-off).
        results = [sorted((round(h.score, 5), h.path, h.start_line, h.end_line)
                          for h in idx.query(q, top_k=100_000, per_file=None)) for q in QUERIES]
        settings = store.settings
        assert not told, told  # vectors.faiss is current after a completed run
    return {"files": files, "passages": passages, "results": results,
            "chunking": (settings.chunk_tokens, settings.overlap)}


runner = CliRunner()


def check_committed(root: Path, corpus: Corpus, monkeypatch: pytest.MonkeyPatch, index_expected: bool) -> bool:
    """After a kill: ``info`` and ``query`` work on a committed state, or there is no index yet.

    Returns whether there is an index.
    """
    monkeypatch.setattr(semsearch.embedders, "load", fake_loader)
    info = runner.invoke(app, ["info", "--index", str(root), "--format", "json"])
    if info.exit_code == 2 and not index_expected:
        assert "no index" in info.stderr and "semsearch index" in info.stderr, info.stderr
        with pytest.raises(IndexNotFoundError):
            Index(root)
        return False
    assert info.exit_code == 0, info.stderr
    files = json.loads(info.stdout)["files"]
    query = runner.invoke(app, ["query", QUERIES[0], "--index", str(root), "--format", "json"])
    assert query.exit_code == (0 if files else 1), query.stderr
    with Index(root, embedder_factory=FakeFactory()) as idx:
        store, settings = idx.store.catalog, idx.settings
        for path, rec in store.files().items():
            if rec.skipped:
                continue
            text = corpus.versions[path][rec.digest]  # a version of the file that really existed
            chunks = chunk_text(text, FAKE.token_spans, settings.chunk_tokens, settings.overlap)
            rows = sorted(store.passages(store.passage_ids([path])).values(), key=lambda r: r.ordinal)
            assert [(r.start_line, r.end_line, r.text) for r in rows] == [
                (c.start_line, c.end_line, c.text) for c in chunks
            ], path
            # Its vectors: those embedded so far (all of them once the embedding phase is done), each right.
            ids, vectors = store.file_vectors(path)
            ordinals = [next(r.ordinal for r in rows if r.id == i) for i in ids]
            expected = (FAKE.embed_documents([chunks[o].text for o in ordinals]) if ids
                        else np.zeros((0, FAKE.dimension)))
            assert np.array_equal(vectors, codec.decode(codec.encode(expected), FAKE.dimension))  # as stored: int8
        embedded = store.count_passages() - store.count_unembedded()
        assert len(idx.store.vectors()) == embedded == store.count_vectors("passages")
        assert files == store.count_files()
    return True


# Named kill points, in the order they are used on one folder; each run resumes the last.
# Progressive indexing: each run commits the text of what it reads first (insert, read, chunk:
# the text phase), then embeds (embed, vectors: the embedding phase), then writes the vector files.
FIRST_INDEX = ["walk:1", "replace:1", "insert:1", "commit:2", "read:5", "chunk:4", "committed:2",
               "embed:1", "vectors:1", "embed:3", "committed:2", "vectors:2", "fsync:1", "replace:1"]
UPDATE = ["walk:2", "read:2", "insert:2", "commit:1", "embed:1", "vectors:1", "fsync:1"]
REBUILD = ["insert:3", "embed:2", "vectors:2", "commit:3", "fsync:1", "replace:2", "swap:1", "swapped:1"]


@pytest.mark.slow
def test_sigkill_at_every_named_point_then_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = Corpus(tmp_path / "notes")
    root = corpus.root
    # A first index, killed again and again; until one commit lands there is "no index yet".
    has_index = False
    for point in FIRST_INDEX:
        assert kill_at(root, point), point
        has_index = check_committed(root, corpus, monkeypatch, index_expected=has_index)
    assert has_index
    assert child("index", root).returncode == 0
    assert snapshot(root) == corpus.reference(tmp_path)

    # An update: edits, deletions, new files.
    corpus.mutate(random.Random(1))
    for point in UPDATE:
        assert kill_at(root, point), point
        check_committed(root, corpus, monkeypatch, index_expected=True)
    assert child("index", root).returncode == 0
    assert snapshot(root) == corpus.reference(tmp_path)

    # A rebuild with other settings: until the swap, the old index answers, whole.
    before = snapshot(root)
    for point in REBUILD:
        assert kill_at(root, point, "--rebuild", "--chunk-tokens", "100"), point
        check_committed(root, corpus, monkeypatch, index_expected=True)
        now = snapshot(root)
        assert now == before or now["chunking"] == (100, 32)
    assert child("index", root).returncode == 0  # the swapped-in index is complete: nothing to do
    assert snapshot(root) == corpus.reference(tmp_path, chunk_tokens=100)
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".semsearch")) == [".semsearch"]
    assert sum(KILLS.values()) >= 25 and set(KILLS) >= {"walk", "insert", "embed", "vectors", "commit", "fsync", "swap"}


def assert_approximately_equal(got: dict, want: dict) -> None:
    """Snapshots equal but for scores, which agree to 0.05: an approximate index's 8-bit
    codes depend on the vectors it was trained on (here an earlier version of the corpus,
    against the reference's final one), so its scores differ by up to a few hundredths."""
    assert {**got, "results": None} == {**want, "results": None}
    for ours, theirs in zip(got["results"], want["results"], strict=True):
        mine = {tuple(hit[1:]): hit[0] for hit in ours}
        assert mine.keys() == {tuple(hit[1:]) for hit in theirs}  # every passage, once
        assert max(abs(mine[tuple(hit[1:])] - hit[0]) for hit in theirs) < 0.05


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
@pytest.mark.slow
def test_sigkill_with_an_approximate_index_then_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       kind: str) -> None:
    corpus = Corpus(tmp_path / "notes")
    root = corpus.root
    has_index = False
    for point in ("embed:2", "committed:3", "fsync:1", "replace:1"):  # the first run, asked for this kind
        assert kill_at(root, point, "--vector-index", kind), point
        has_index = check_committed(root, corpus, monkeypatch, index_expected=has_index)
    assert child("index", root).returncode == 0  # the kind is remembered
    with Index(root, embedder_factory=FakeFactory()) as idx:
        assert idx.settings.vector_index == kind and idx.info().vector_index.startswith(kind)
    corpus.mutate(random.Random(3))
    for point in ("insert:2", "committed:1", "fsync:1", "replace:1", "fsync:2"):  # updates: the delta files
        assert kill_at(root, point), point
        check_committed(root, corpus, monkeypatch, index_expected=True)
    assert child("index", root).returncode == 0
    assert_approximately_equal(snapshot(root), corpus.reference(tmp_path, vector_index=kind))


def random_kills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kills: int, seed: int,
                 enough: int | None = None) -> int:
    """Kill runs at random moments (updates, and every third run a rebuild); returns kills that landed.

    With ``enough``, stop once that many kills have landed mid-run (a kill that comes after
    the run finished checks less, and how many do depends on the machine's speed)."""
    rng = random.Random(seed)
    corpus = Corpus(tmp_path / "notes")
    started = time.perf_counter()
    assert child("index", corpus.root).returncode == 0
    full = time.perf_counter() - started  # a whole first index, start-up included
    landed = 0
    for i in range(kills):
        corpus.mutate(rng, edits=3, deletes=1, adds=2)
        args = ["--rebuild"] if i % 3 == 2 else []
        proc = subprocess.Popen([sys.executable, str(CHILD), "--", "index", str(corpus.root), *args],
                                env={**os.environ, "SEMSEARCH_TEST_COMMIT_EVERY": str(COMMIT_EVERY)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.1, full))
        proc.send_signal(signal.SIGKILL)
        if proc.wait() == -signal.SIGKILL:
            landed += 1
            KILLS["random"] += 1
        check_committed(corpus.root, corpus, monkeypatch, index_expected=True)
        if enough is not None and landed >= enough:
            break
    assert child("index", corpus.root).returncode == 0
    assert snapshot(corpus.root) == corpus.reference(tmp_path)
    return landed


@pytest.mark.slow
def test_sigkill_at_random_moments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert random_kills(tmp_path, monkeypatch, kills=12, seed=5, enough=3) >= 3


@pytest.mark.crash_long
@pytest.mark.slow
def test_sigkill_at_many_random_moments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kills = int(os.environ.get("SEMSEARCH_CRASH_KILLS", "60"))
    landed = random_kills(tmp_path, monkeypatch, kills=kills, seed=int(os.environ.get("SEMSEARCH_CRASH_SEED", "7")))
    print(f"{landed} of {kills} random kills landed mid-run")  # shown with -s
    assert landed >= kills // 2


@pytest.mark.crash_long
@pytest.mark.slow
def test_sigkill_with_the_real_model(tmp_path: Path, sample_copy: Path) -> None:
    """One kill mid-embedding with the real model; the resumed index matches an uninterrupted one."""
    root = copy_sample(tmp_path / "notes")
    result = subprocess.run([sys.executable, str(CHILD), "--real-model", "--kill", "embed:4", "--", "index", str(root)],
                            env={**os.environ, "SEMSEARCH_TEST_COMMIT_EVERY": "32"}, capture_output=True, timeout=600)
    assert result.returncode == -signal.SIGKILL
    with Index(root) as idx:
        info = idx.info()  # every file's text, and two batches of vectors (killed queueing the 4th as the 3rd runs)
        assert info.files == 52 and info.passages - info.unembedded == 64
    report = sync(root)
    assert report.passages_embedded <= report.passages - 64  # resume re-embedded only what was lost
    with Index(root) as a, Index(sample_copy) as b:
        for q in QUERIES:
            got, want = a.query(q, top_k=5), b.query(q, top_k=5)
            assert [h.path for h in got] == [h.path for h in want]
            assert np.allclose([h.score for h in got], [h.score for h in want], atol=1e-4)


@pytest.mark.slow
def test_ctrl_c_commits_nothing_half_done_and_says_how_to_resume(tmp_path: Path, monkeypatch) -> None:
    corpus = Corpus(tmp_path / "notes")
    for point in ("embed:3", "committed:2", "fsync:1"):
        result = child("index", corpus.root, action=("--interrupt", point))
        assert result.returncode == 130, result.stderr
        assert "interrupted" in result.stderr and "run the same command again to resume" in result.stderr
        assert "Traceback" not in result.stderr
        check_committed(corpus.root, corpus, monkeypatch, index_expected=True)
        KILLS["sigint"] += 1
    with Index(corpus.root, embedder_factory=FakeFactory()) as idx:
        assert idx.info().files > 0  # the batches committed before Ctrl-C are kept
    assert child("index", corpus.root).returncode == 0
    assert snapshot(corpus.root) == corpus.reference(tmp_path)


def wait_for(flag: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the writer did not reach its pause"
        time.sleep(0.02)


def start_paused(root: Path, point: str, flag: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(CHILD), "--pause", f"{point}:{flag}", "--", "index", str(root)],
                            env={**os.environ, "SEMSEARCH_TEST_COMMIT_EVERY": str(COMMIT_EVERY)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(flag, proc)
    return proc


@pytest.mark.slow
def test_one_writer_at_a_time_readers_see_the_last_commit_and_a_dead_writer_is_taken_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = Corpus(tmp_path / "notes")
    root = corpus.root
    outside = tmp_path / "sleep-notes.md"  # a file from outside the index, for `similar`
    shutil.copy(root / "health" / "sleep-notes.md", outside)
    # Paused queueing the 4th vector batch (the 3rd runs): every file's text and two vector batches committed.
    first = start_paused(root, "embed:4", tmp_path / "first-paused")
    try:
        second = child("index", root)
        assert second.returncode == 2
        assert f"another index is running on {root} (pid {first.pid})" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
        # Readers, meanwhile, see what was committed (similar: the files embedded so far), through the command line too.
        check_committed(root, corpus, monkeypatch, index_expected=True)
        for args in (["info"], ["query", QUERIES[1]], ["similar", outside]):
            result = child(*args, "--index", root, "--format", "json")
            assert result.returncode == 0, (args, result.stderr)
    finally:
        first.kill()  # SIGKILL: it dies holding the lock
        first.wait()
    assert (root / ".semsearch" / "lock").read_text() == str(first.pid)  # the dead writer's pid is still there
    flag = tmp_path / "taker-paused"
    taker = start_paused(root, "committed:1", flag)  # the stale lock is taken over
    try:
        third = child("index", root)
        assert third.returncode == 2 and f"(pid {taker.pid})" in third.stderr
    finally:
        flag.unlink()
    assert taker.wait(timeout=120) == 0, taker.stderr.read()
    assert snapshot(root) == corpus.reference(tmp_path)


@pytest.mark.slow
def test_a_reader_keeps_one_committed_state_while_a_writer_commits_and_swaps(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path / "notes")
    root = corpus.root
    sync(root, embedder_factory=FakeFactory())
    before = snapshot(root)
    with Index(root, embedder_factory=FakeFactory()) as reader:
        files = reader.info().files
        # The writer deletes the file the reader is about to use, then rebuilds and swaps.
        victim = root / "health" / "sleep-notes.md"
        victim.rename(tmp_path / "sleep-notes.md")
        sync(root, embedder_factory=FakeFactory())
        sync(root, embedder_factory=FakeFactory(), rebuild=True, chunk_tokens=64)
        assert reader.info().files == files  # still the state it opened
        assert reader.similar(tmp_path / "sleep-notes.md")  # its vectors, from the reader's snapshot
        hits = reader.query(QUERIES[0], top_k=100_000, per_file=None)
        assert sorted((round(h.score, 5), h.path, h.start_line, h.end_line) for h in hits) == before["results"][0]
    with Index(root, embedder_factory=FakeFactory()) as fresh:
        assert fresh.info().files == files - 1 and fresh.settings.chunk_tokens == 64


class _CommitThenInterrupt:
    """A connection whose COMMIT succeeds and is then 'interrupted' (Ctrl-C landing just after it)."""

    def __init__(self, conn) -> None:
        self._conn = conn

    def __getattr__(self, name: str):
        return getattr(self._conn, name)

    def execute(self, sql: str, *args):
        result = self._conn.execute(sql, *args)
        if sql == "COMMIT":
            raise KeyboardInterrupt
        return result


def test_ctrl_c_just_after_commit_keeps_the_batch_and_is_still_an_interrupt(notes: Path) -> None:
    sync(notes, embedder_factory=FakeFactory())
    from semsearch.storage import SqliteCatalog as Store

    store = Store.open(notes / ".semsearch")
    store._conn = _CommitThenInterrupt(store._conn)
    generation = store.generation
    # not "cannot rollback - no transaction is active"
    with pytest.raises(KeyboardInterrupt), store.transaction():
        store.delete_file("logs.md")
    store.close()
    with Index(notes, embedder_factory=FakeFactory()) as idx:
        assert idx.generation == generation + 1 and "logs.md" not in idx.store.catalog.files()


def test_rebuild_swap_without_renameat2(notes: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the OS cannot exchange two names in one step, the swap falls back to renames."""
    import ctypes

    sync(notes, embedder_factory=FakeFactory())

    def no_libc(*args, **kwargs):
        raise OSError("no renameat2 here")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    report = sync(notes, embedder_factory=FakeFactory(), rebuild=True, chunk_tokens=64)
    assert report.created and report.files == 3
    with Index(notes, embedder_factory=FakeFactory()) as idx:
        assert idx.settings.chunk_tokens == 64
    assert sorted(p.name for p in notes.iterdir() if p.name.startswith(".semsearch")) == [".semsearch"]
