"""``semsearch query`` through a running ``semsearch serve``: the real command line in a
new process, the real server in another, and their answers compared with the local path.

The index here is made with the fast fake embedder, and the server runs with it too
(tests/crash_child.py). ``python -m semsearch`` (the product, with the real model) can only
answer such an index through that server: alone, it refuses the index (its model gives
vectors of another size) with exit 2. So exit 2 from it proves the local path was taken,
and an answer proves the server gave it; the local path's own answer (with the fake
embedder, ``SEMSEARCH_NO_SERVER=1``) is what the server's must equal, byte for byte.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .live_process import CHILD, LiveProcess, indexed_copy, serving

pytestmark = pytest.mark.slow  # a real HTTP server in a child process: out of the fast tier

ENDPOINT = Path(".semsearch") / "server.json"


def product(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m semsearch ARGS``: the real entry point, the real model."""
    return subprocess.run([sys.executable, "-m", "semsearch", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, check=False, env={**os.environ, "NO_COLOR": "1", **env})


def local(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The same command on the local path, with the fake embedder the index was made with."""
    return subprocess.run([sys.executable, str(CHILD), "--", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, check=False, env={**os.environ, "NO_COLOR": "1", "SEMSEARCH_NO_SERVER": "1"})


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return indexed_copy(tmp_path_factory.mktemp("remote"))


@pytest.fixture(scope="module")
def server(corpus: Path) -> LiveProcess:
    with LiveProcess("serve", corpus, "--port", "0") as proc:
        serving(proc)
        yield proc


CASES = [
    (".", ["query", "compost kitchen scraps", "-f", "json"]),
    (".", ["query", "compost", "kitchen", "scraps", "-k", "3", "--format=jsonl", "--chunks"]),
    (".", ["query", "sourdough starter", "--mode", "LEXICAL", "--path", "*.md", "-f", "tsv"]),
    (".", ["query", "sourdough starter", "--mode", "dense", "--per-file", "2", "-f", "csv", "--absolute"]),
    (".", ["query", "garlic", "-0"]),
    (".", ["query", "garlic", "-f", "vimgrep", "--min-score", "0"]),
    ("garden", ["query", "garlic planting", "-f", "json"]),  # from a subfolder: that subfolder only
    ("garden", ["query", "garlic planting", "--all", "-f", "paths", "--path", "../kitchen/*"]),
    ("..", ["query", "garlic", "--index", "notes", "-f", "paths"]),  # the index from outside: paths from here
    (".", ["query", "zzqqxx", "--mode", "lexical", "-f", "json"]),  # nothing found: exit 1
]


@pytest.mark.parametrize(("where", "args"), CASES, ids=[" ".join(a[1:]) for _, a in CASES])
def test_the_answer_through_the_server_is_the_local_answer(server: LiveProcess, corpus: Path, where: str,
                                                           args: list[str]) -> None:
    cwd = (corpus / where).resolve()
    remote, here = product(*args, cwd=cwd), local(*args, cwd=cwd)
    assert here.returncode in (0, 1), here.stderr
    assert (remote.returncode, remote.stdout) == (here.returncode, here.stdout), remote.stderr
    assert remote.stderr == here.stderr == ""


def test_the_product_alone_cannot_answer_this_index(corpus: Path, server: LiveProcess) -> None:
    """What makes the comparisons above mean something: they were answered by the server."""
    alone = product("query", "compost kitchen scraps", "-f", "json", cwd=corpus, SEMSEARCH_NO_SERVER="1")
    assert alone.returncode == 2 and "vectors" in alone.stderr
    opted_out = product("query", "compost", "--no-server", cwd=corpus)
    assert opted_out.returncode == 2 and "vectors" in opted_out.stderr
    # What it does not handle goes to the local path too: the context block, -C, a batch.
    assert product("query", "compost", "-f", "context", cwd=corpus).returncode == 2
    assert product("query", "compost", "-C", "2", "-f", "table", cwd=corpus).returncode == 2
    assert product("query", "compost", "--top-k", "0", cwd=corpus).returncode == 2  # an error stays the CLI's
    assert product("query", "compost", "-f", "paths", cwd=corpus).returncode == 0


def test_the_answer_through_the_server_loads_nothing_heavy(server: LiveProcess, corpus: Path) -> None:
    """The point of it: no model runtime, no vectors, no Typer or Rich in the client."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "semsearch", "query", "garlic", "-f", "json"],
                          capture_output=True, text=True, cwd=corpus, timeout=300, check=False)
    assert done.returncode == 0 and json.loads(done.stdout), done.stderr
    loaded = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines()
              if line.startswith("import time:")}
    assert "semsearch" in loaded
    heavy = {"torch", "onnxruntime", "tokenizers", "faiss", "numpy", "typer", "click", "rich", "fastapi", "pathspec"}
    assert not loaded & heavy, loaded & heavy


def test_the_endpoint_file_is_owner_only_and_removed_on_exit(tmp_path: Path) -> None:
    root = indexed_copy(tmp_path)
    with LiveProcess("serve", root, "--port", "0") as proc:
        port = proc.wait_for(r"at http://127\.0\.0\.1:(\d+)").group(1)
        st = os.lstat(root / ENDPOINT)
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
        data = json.loads((root / ENDPOINT).read_text())
        assert data["port"] == int(port) and data["pid"] == proc.proc.pid and len(data["token"]) >= 32
        assert product("query", "garlic", "-f", "paths", cwd=root).returncode == 0
        assert proc.interrupt() == 130
    assert not (root / ENDPOINT).exists()
    # an index folder holding the file is still recognisably ours (a --rebuild may replace it)
    from semsearch.storage.layout import stray_entries

    (root / ENDPOINT).write_text("{}")
    assert stray_entries(root / ".semsearch") == []


def test_a_token_protected_server_is_used_through_its_per_run_token(tmp_path: Path) -> None:
    root = indexed_copy(tmp_path)
    token = "the-users-own-secret-token"
    with LiveProcess("serve", root, "--port", "0", env={"SEMSEARCH_TOKEN": token}) as proc:
        proc.wait_for(r"serving ")
        assert token not in (root / ENDPOINT).read_text()  # the user's token is never written down
        remote = product("query", "garlic", "-f", "json", cwd=root, SEMSEARCH_TOKEN="")
        assert remote.returncode == 0 and json.loads(remote.stdout), remote.stderr


def test_a_stale_endpoint_file_is_ignored(tmp_path: Path) -> None:
    root = indexed_copy(tmp_path)
    with LiveProcess("serve", root, "--port", "0") as proc:
        proc.wait_for(r"serving ")
        proc.proc.kill()  # no clean exit: the file stays, naming a dead pid and a closed port
        proc.proc.wait(30)
    assert (root / ENDPOINT).exists()
    assert product("query", "garlic", "-f", "paths", cwd=root).returncode == 2  # the local path, at once
    here = local("query", "garlic", "-f", "json", cwd=root)
    through = subprocess.run([sys.executable, str(CHILD), "--", "query", "garlic", "-f", "json"], cwd=root,
                             capture_output=True, text=True, timeout=300, check=False)
    assert (through.returncode, through.stdout, through.stderr) == (0, here.stdout, "")
    # a live pid (this test's) but nothing listening on the port
    data = json.loads((root / ENDPOINT).read_text())
    (root / ENDPOINT).write_text(json.dumps({**data, "pid": os.getpid()}))
    assert product("query", "garlic", "-f", "paths", cwd=root).returncode == 2


def test_an_endpoint_file_open_to_others_or_a_link_is_never_used(tmp_path: Path) -> None:
    root = indexed_copy(tmp_path)
    endpoint = root / ENDPOINT
    with LiveProcess("serve", root, "--port", "0") as proc:
        proc.wait_for(r"serving ")
        content = endpoint.read_text()
        assert product("query", "garlic", "-f", "paths", cwd=root).returncode == 0
        endpoint.chmod(0o644)  # readable by others: not trusted
        assert product("query", "garlic", "-f", "paths", cwd=root).returncode == 2
        endpoint.chmod(0o600)
        elsewhere = tmp_path / "planted.json"
        elsewhere.write_text(content)
        elsewhere.chmod(0o600)
        endpoint.unlink()
        endpoint.symlink_to(elsewhere)  # a planted link, to a file that would be trusted: never followed
        assert product("query", "garlic", "-f", "paths", cwd=root).returncode == 2
        endpoint.unlink()
        os.link(elsewhere, endpoint)  # a second name for it: refused too
        assert product("query", "garlic", "-f", "paths", cwd=root).returncode == 2
        endpoint.unlink()
        if os.geteuid() == 0:
            endpoint.write_text(content)
            endpoint.chmod(0o600)
            os.chown(endpoint, 12345, -1)  # someone else's file
            assert product("query", "garlic", "-f", "paths", cwd=root).returncode == 2
        assert proc.interrupt() == 130
    assert elsewhere.read_text() == content  # the server's clean exit never touched the planted file


def test_serve_never_writes_its_endpoint_through_a_planted_link(tmp_path: Path) -> None:
    root = indexed_copy(tmp_path)
    target = tmp_path / "victim.txt"
    target.write_text("untouched\n")
    (root / ENDPOINT).symlink_to(target)
    with LiveProcess("serve", root, "--port", "0") as proc:
        proc.wait_for(r"serving ")
        proc.wait_for(r"symbolic link")  # said on stderr; the server runs without advertising itself
        assert product("query", "garlic", "-f", "paths", cwd=root).returncode == 2
        assert proc.interrupt() == 130
    assert target.read_text() == "untouched\n" and (root / ENDPOINT).is_symlink()


def test_real_model_query_through_the_server_is_the_local_answer(sample_copy: Path) -> None:
    args = ["query", "how do I keep a sourdough starter alive", "-f", "json"]
    alone = product(*args, cwd=sample_copy, SEMSEARCH_NO_SERVER="1")
    assert alone.returncode == 0, alone.stderr
    with LiveProcess("serve", sample_copy, "--port", "0", real_model=True) as proc:
        proc.wait_for(r"serving ")
        through = product(*args, cwd=sample_copy)
        assert proc.interrupt() == 130
    assert (through.returncode, through.stdout, through.stderr) == (0, alone.stdout, alone.stderr)
