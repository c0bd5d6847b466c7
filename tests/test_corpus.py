"""Which files are indexed, and how their bytes become text."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from semsearch.corpus import Document, FileEntry, Skipped, read_document, walk


def paths(root: Path, **kwargs) -> list[str]:
    return [e.path for e in walk(root, **kwargs)]


def write(root: Path, rel: str, content: str | bytes = "some text\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_ignore_files_hidden_and_index_folders(tmp_path: Path) -> None:
    for rel in ["a.md", "b.log", "keep.log", "build/out.txt", "sub/c.txt", "sub/secret.txt", "sub/deep/d.org",
                ".hidden.md", ".git/config", ".semsearch/catalog.txt", "notes.rst", "drafts/x.md"]:
        write(tmp_path, rel)
    write(tmp_path, ".gitignore", "*.log\n!keep.log\nbuild/\n")
    write(tmp_path, "sub/.gitignore", "secret.txt\n")
    write(tmp_path, ".semsearchignore", "drafts/\n")
    assert paths(tmp_path) == ["a.md", "keep.log", "notes.rst", "sub/c.txt", "sub/deep/d.org"]


def test_include_and_exclude_globs(tmp_path: Path) -> None:
    for rel in ["a.md", "b.txt", "sub/c.md", "sub/d.txt", "archive/e.md"]:
        write(tmp_path, rel)
    assert paths(tmp_path, include=["*.md"]) == ["a.md", "archive/e.md", "sub/c.md"]
    assert paths(tmp_path, include=["*.md"], exclude=["archive/"]) == ["a.md", "sub/c.md"]
    assert paths(tmp_path, exclude=["*.txt"]) == ["a.md", "archive/e.md", "sub/c.md"]


def test_known_binary_suffixes_are_skipped_with_a_reason(tmp_path: Path) -> None:
    write(tmp_path, "photo.JPG", b"\xff\xd8\xff")
    write(tmp_path, "a.md")
    skipped: list[Skipped] = []
    assert paths(tmp_path, skipped=skipped) == ["a.md"]
    assert skipped == [Skipped("photo.JPG", "binary")]


def test_symlink_loops_and_links_are_not_followed(tmp_path: Path) -> None:
    write(tmp_path, "sub/a.md")
    os.symlink(tmp_path, tmp_path / "sub" / "loop")
    os.symlink(tmp_path / "sub" / "a.md", tmp_path / "link.md")
    skipped: list[Skipped] = []
    assert paths(tmp_path, skipped=skipped) == ["sub/a.md"]
    assert {s.path for s in skipped} == {"link.md", "sub/loop"}
    assert all("symbolic link" in s.reason for s in skipped)


def test_unreadable_folder_is_reported_not_fatal(tmp_path: Path) -> None:
    write(tmp_path, "ok.md")
    locked = tmp_path / "locked"
    write(tmp_path, "locked/x.md")
    locked.chmod(0)
    try:
        skipped: list[Skipped] = []
        found = paths(tmp_path, skipped=skipped)
        if os.geteuid() == 0:  # root reads everything: the folder is simply walked
            assert found == ["locked/x.md", "ok.md"]
        else:
            assert found == ["ok.md"] and skipped[0].path == "locked"
    finally:
        locked.chmod(0o755)


def entry(path: Path) -> FileEntry:
    st = path.stat()
    return FileEntry(path.name, path, st.st_size, st.st_mtime_ns)


@pytest.mark.parametrize(
    "data, expected",
    [
        ("café au lait\r\nsecond line\r\n".encode(), "café au lait\nsecond line\n"),
        ("\ufeffwith a BOM\n".encode("utf-8"), "with a BOM\n"),
        ("naïve façade, déjà vu — l'été à Orléans\n".encode("utf-16"), "naïve façade, déjà vu — l'été à Orléans\n"),
        ("Über die Straße gehen wir gemeinsam, während es draußen regnet und schneit.\n".encode("latin-1"),
         "Über die Straße gehen wir gemeinsam, während es draußen regnet und schneit.\n"),
        (b"", ""),
    ],
)
def test_text_in_any_common_encoding_is_decoded(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    doc = read_document(entry(path))
    assert isinstance(doc, Document) and doc.text == expected


@pytest.mark.parametrize("data", [b"\x00\x01\x02\x03" * 100, bytes(range(256)) * 40,
                                  b"PK\x03\x04\x14\x00\x00\x00" * 50])
def test_binary_content_is_skipped(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert read_document(entry(path)) == Skipped("blob", "binary")


def test_unreadable_file_is_skipped_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "gone.md"
    e = FileEntry("gone.md", path, 10, 0)  # stat said it was there; it is not any more
    result = read_document(e)
    assert isinstance(result, Skipped) and result.reason.startswith("unreadable")
