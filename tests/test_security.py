"""Attacks on the index folder, performed for real, and the promise of no network.

An index folder can be planted: a cloned repository may hold ``.semsearch/lock ->
../../.bashrc``, and a user who owns a folder that root indexes can put links (or folders
of their own) where semsearch writes. Each test plants one, runs the real command line and
checks that semsearch refuses (exit 2, one line) and that the target is untouched. The
cross-user tests plant as uid 65534 (nobody) with ``setpriv`` and need root. Reading an
index someone else owns still works. The network test runs ``index`` and ``query`` with
the default (onnx) backend in a network namespace with no interfaces, under ``strace``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import semsearch.embedders
from semsearch import sync
from semsearch.cli import app
from semsearch.errors import UnsafeFolderError
from semsearch.storage import exchange_folders

from .conftest import REPO, FakeFactory, copy_sample, fingerprint
from .fakes import fake_loader

runner = CliRunner()
NOBODY = 65534
VICTIM_TEXT = "export PATH=$HOME/bin:$PATH  # the victim's own file\n"


def cli(*args: object, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(semsearch.embedders, "load", fake_loader)
    return runner.invoke(app, [str(a) for a in args])


def assert_refused(result, *says: str) -> None:
    """Exit 2 and one line on stderr that says so."""
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("semsearch: error:"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for words in says:
        assert words in result.stderr, result.stderr


def snapshot(path: Path) -> dict[str, tuple[int, int, bytes | None]]:
    """Every entry under ``path`` (and ``path`` itself): mode, owner and, for files, content."""
    out = {}
    for p in [path, *sorted(path.rglob("*"))]:
        st = p.lstat()
        content = p.read_bytes() if stat.S_ISREG(st.st_mode) else None
        out[str(p.relative_to(path))] = (st.st_mode, st.st_uid, content)
    return out


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file of the user's that a planted link points at."""
    home = tmp_path / "home"
    home.mkdir()
    target = home / ".bashrc"
    target.write_text(VICTIM_TEXT)
    target.chmod(0o644)
    return target


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """An empty folder of the user's, outside the indexed one, that a planted link points at."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    folder.chmod(0o755)
    return folder


# -- links planted in the user's own folder (a cloned repository) -------------------------


@pytest.mark.parametrize("existing", [False, True], ids=["new-index", "existing-index"])
def test_lock_linked_to_a_file_is_refused_and_the_file_untouched(
    notes: Path, victim: Path, existing: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = notes / ".semsearch"
    if existing:
        assert cli("index", notes, monkeypatch=monkeypatch).exit_code == 0
        (index_dir / "lock").unlink()
    else:
        index_dir.mkdir()
    (index_dir / "lock").symlink_to(os.path.relpath(victim, index_dir))  # as a repository would hold it
    before = victim.lstat()
    result = cli("index", notes, monkeypatch=monkeypatch)
    assert_refused(result, f"{index_dir / 'lock'} is a symbolic link", "remove it")
    assert victim.read_text() == VICTIM_TEXT
    assert (victim.lstat().st_mode, victim.lstat().st_size) == (before.st_mode, before.st_size)


def test_lock_hard_linked_to_a_file_is_refused_before_anything_is_written(
    notes: Path, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (notes / ".semsearch").mkdir()
    os.link(victim, notes / ".semsearch" / "lock")
    result = cli("index", notes, monkeypatch=monkeypatch)
    assert_refused(result, "hard links")
    assert victim.read_text() == VICTIM_TEXT and stat.S_IMODE(victim.stat().st_mode) == 0o644


def test_dangling_lock_link_creates_nothing_at_its_target(
    notes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (notes / ".semsearch").mkdir()
    target = tmp_path / "planted" / "x"
    target.parent.mkdir()
    (notes / ".semsearch" / "lock").symlink_to(target)
    result = cli("index", notes, monkeypatch=monkeypatch)
    assert_refused(result, "is a symbolic link")
    assert not target.exists() and list(target.parent.iterdir()) == []


@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-folder", "dangling"])
def test_index_folder_that_is_a_link_is_refused(
    notes: Path, elsewhere: Path, dangling: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = elsewhere / "new" if dangling else elsewhere
    (notes / ".semsearch").symlink_to(target)
    before = snapshot(elsewhere)
    result = cli("index", notes, monkeypatch=monkeypatch)
    assert_refused(result, f"{notes / '.semsearch'} is a symbolic link; semsearch will not write through it")
    assert snapshot(elsewhere) == before  # mode unchanged (no chmod 0700), nothing written in it
    assert (notes / ".semsearch").is_symlink()


def test_building_folder_that_is_a_link_is_refused_on_rebuild(
    notes: Path, elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("index", notes, monkeypatch=monkeypatch).exit_code == 0
    was = fingerprint(notes)
    (notes / ".semsearch.building").symlink_to(elsewhere)
    before = snapshot(elsewhere)
    result = cli("index", notes, "--rebuild", "--chunk-tokens", "64", monkeypatch=monkeypatch)
    assert_refused(result, f"{notes / '.semsearch.building'} is a symbolic link")
    assert snapshot(elsewhere) == before
    assert fingerprint(notes) == was  # the live index is untouched and still answers
    found = cli("query", "rotate logs", "--index", notes, "--format", "paths", monkeypatch=monkeypatch)
    assert found.exit_code == 0 and "logs.md" in found.stdout


@pytest.mark.parametrize("name", ["catalog.sqlite", "catalog.sqlite-wal"])
def test_catalog_that_is_a_link_is_refused(
    notes: Path, tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("index", notes, monkeypatch=monkeypatch).exit_code == 0
    other = tmp_path / "other.sqlite"
    planted = notes / ".semsearch" / name
    if name == "catalog.sqlite":
        shutil.move(planted, other)  # someone's own database, that the link aims the writes at
    else:
        other.write_bytes(b"not a WAL file\n")
    planted.symlink_to(other)
    before = other.read_bytes()
    (notes / "new.md").write_text("A new note about sourdough starters.\n")
    result = cli("index", notes, monkeypatch=monkeypatch)
    assert_refused(result, f"{name} is a symbolic link")
    assert other.read_bytes() == before


def test_swap_folder_that_is_a_link_is_refused(
    notes: Path, elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where renameat2 is missing, the swap renames through ``.semsearch.swap``: never a link."""
    import ctypes

    sync(notes, embedder_factory=FakeFactory())
    (notes / ".semsearch.building").mkdir()
    (notes / ".semsearch.swap").symlink_to(elsewhere)
    def no_libc(*args: object, **kwargs: object) -> None:
        raise OSError("no renameat2 here")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    before = snapshot(elsewhere)
    with pytest.raises(UnsafeFolderError, match="swap is a symbolic link"):
        exchange_folders(notes / ".semsearch", notes / ".semsearch.building")
    assert snapshot(elsewhere) == before and (notes / ".semsearch" / "catalog.sqlite").is_file()


# -- another user -----------------------------------------------------------------------

needs_root = pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="acting as another user needs root and setpriv",
)


def as_nobody(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run ``argv`` as uid/gid 65534 with no supplementary groups."""
    setpriv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return subprocess.run(setpriv + argv, capture_output=True, text=True, timeout=600, check=False, **kwargs)


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder every user can reach (pytest's own temporary folders are root's only)."""
    folder = Path(tempfile.mkdtemp(prefix="semsearch-security-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def nobody_folder(shared: Path) -> Path:
    """A folder of notes that belongs to nobody."""
    folder = shared / "nobodys-notes"
    folder.mkdir()
    (folder / "a.md").write_text("Rotate log files weekly with logrotate.\n")
    (folder / "b.md").write_text("Bread: flour, water, yeast, salt.\n")
    for p in (folder, *folder.iterdir()):
        os.chown(p, NOBODY, NOBODY)
    return folder


@pytest.fixture
def roots_secrets(shared: Path) -> Path:
    """A folder only root can enter, with a file only root can read."""
    folder = shared / "root-only"
    folder.mkdir(mode=0o700)
    folder.chmod(0o700)
    secret = folder / "secret.conf"
    secret.write_text(VICTIM_TEXT)
    secret.chmod(0o600)
    return folder


def plant(folder: Path, script: str) -> None:
    """Run a shell script as nobody in ``folder``."""
    done = as_nobody(["sh", "-c", script], cwd=folder)
    assert done.returncode == 0, done.stderr


@needs_root
@pytest.mark.parametrize("planted", ["own-index-folder", "index-folder-link", "building-link"])
def test_another_user_cannot_aim_roots_index_at_roots_files(
    nobody_folder: Path, roots_secrets: Path, planted: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = roots_secrets / "secret.conf"
    args: list[object] = ["index", nobody_folder]
    if planted == "own-index-folder":  # a .semsearch of nobody's own, its lock aimed at root's file
        plant(nobody_folder, f"mkdir .semsearch && ln -s '{secret}' .semsearch/lock && ln -s '{secret}' "
              ".semsearch/catalog.sqlite")
        says = f"{nobody_folder / '.semsearch'} belongs to nobody (uid {NOBODY}), not to you"
    elif planted == "index-folder-link":
        plant(nobody_folder, f"ln -s '{roots_secrets}' .semsearch")
        says = "is a symbolic link"
    else:  # root indexed nobody's folder before; now nobody aims the rebuild at root's folder
        assert cli("index", nobody_folder, monkeypatch=monkeypatch).exit_code == 0
        plant(nobody_folder, f"ln -s '{roots_secrets}' .semsearch.building")
        args.append("--rebuild")
        says = ".semsearch.building is a symbolic link"
    before = snapshot(roots_secrets)
    result = cli(*args, monkeypatch=monkeypatch)
    assert_refused(result, says)
    assert snapshot(roots_secrets) == before
    assert secret.read_text() == VICTIM_TEXT


@needs_root
def test_index_folder_or_lock_of_someone_else_is_refused(notes: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("index", notes, monkeypatch=monkeypatch).exit_code == 0
    lock = notes / ".semsearch" / "lock"
    os.chown(lock, NOBODY, NOBODY)
    assert_refused(cli("index", notes, monkeypatch=monkeypatch), f"{lock} belongs to nobody")
    os.chown(lock, 0, 0)
    os.chown(notes / ".semsearch", NOBODY, NOBODY)
    assert_refused(cli("index", notes, monkeypatch=monkeypatch), "belongs to nobody", "not to you")
    assert stat.S_IMODE((notes / ".semsearch").stat().st_mode) == 0o700


def _python_as_nobody(shared: Path) -> Callable[[list[str], dict[str, str]], subprocess.CompletedProcess]:
    """A way to run this Python as nobody. Where its installation is not readable by others
    (e.g. under /root), it is shown to nobody at a readable place in a private mount namespace."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO), "HOME": str(shared)}
    probe = ["-c", "import faiss, numpy, typer, semsearch"]
    if as_nobody([sys.executable, *probe], env=env, cwd=shared).returncode == 0:
        return lambda argv, env: as_nobody([sys.executable, *argv], env=env, cwd=shared)
    prefix = Path(sys.prefix)
    executable = Path(sys.executable)
    if sys.prefix != sys.base_prefix or not executable.is_relative_to(prefix) or not shutil.which("unshare"):
        pytest.skip("this Python cannot be run by another user here")
    view = shared / "python"
    view.mkdir(mode=0o755)
    setpriv = f"setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups"
    script = f'mount --bind "$0" "$1" && shift && exec {setpriv} "$@"'

    def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
        env = {**env, "LD_LIBRARY_PATH": str(view / "lib")}  # where its libpython is
        command = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(prefix), str(view),
                   str(view / executable.relative_to(prefix)), *argv]
        return subprocess.run(command, env=env, cwd=shared, capture_output=True, text=True, timeout=600, check=False)

    if run(probe, env).returncode != 0:
        pytest.skip("this Python cannot be run by another user here")
    return run


@needs_root
@pytest.mark.slow  # runs the command line as another user, in child processes
@pytest.mark.parametrize("real_model", [False, True], ids=["fake", "real"])
def test_an_index_someone_else_owns_can_be_read(shared: Path, model_cache: Path, real_model: bool,
                                                request: pytest.FixtureRequest) -> None:
    """Root indexes a folder and lets everyone read it; nobody queries it (no write access)."""
    root = shared / "notes"
    if real_model:
        shutil.copytree(request.getfixturevalue("sample_copy"), root)  # the session's real-model index, copied
        cache = shared / "cache"
        shutil.copytree(model_cache, cache)  # the ONNX copy, so nobody does not make its own
        entry = ["-m", "semsearch"]
    else:
        sync(copy_sample(root), embedder_factory=FakeFactory())
        cache = shared / "cache"
        cache.mkdir()
        entry = [str(REPO / "tests" / "crash_child.py"), "--"]  # the real command line, the fake model
    subprocess.run(["chmod", "-R", "a+rX", str(root), str(cache)], check=True)
    home = shared / "nobodys-home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    files = fingerprint(root)["files"]  # (root's own reader may checkpoint a WAL the copy brought along)
    before = snapshot(root / ".semsearch")
    python = _python_as_nobody(shared)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO), "HOME": str(home),
           "SEMSEARCH_CACHE_DIR": str(cache)}
    query = python([*entry, "query", "compost and fallen leaves", "--index", str(root), "--format", "json"], env)
    assert query.returncode == 0, query.stderr
    assert json.loads(query.stdout) and query.stderr == ""
    info = python([*entry, "info", "--index", str(root), "--format", "json"], env)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["files"] == files
    assert snapshot(root / ".semsearch") == before  # a reader writes nothing there
    refused = python([*entry, "index", str(root)], env)  # and cannot write (not its folder, nor its index)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr


# -- no network, nothing written outside the index and the cache --------------------------

_FAMILY = re.compile(r"(?:sa|nl)_family=(AF_\w+)")
_INET = re.compile(r'inet_addr\("([^"]+)"\)')
_INET6 = re.compile(r'inet_pton\(AF_INET6, "([^"]+)"')


def remote_attempts(trace: str) -> list[str]:
    """The ``connect``/``sendto`` calls in an strace log that aim off this machine."""
    out = []
    for line in trace.splitlines():
        if "connect(" not in line and "sendto(" not in line:
            continue
        family = _FAMILY.search(line)
        if family is None or family[1] in ("AF_UNIX", "AF_LOCAL", "AF_NETLINK", "AF_UNSPEC"):
            continue  # no address (a connected socket), or not a network one
        v4, v6 = _INET.search(line), _INET6.search(line)
        if family[1] == "AF_INET" and v4 and v4[1].startswith("127."):
            continue
        if family[1] == "AF_INET6" and v6 and v6[1] in ("::1", "::ffff:127.0.0.1"):
            continue
        out.append(line)
    return out


def test_remote_attempts_are_recognised() -> None:
    dns = 'connect(11, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = 0'
    local = 'connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("127.0.0.1")}, 16) = 0'
    unix = 'connect(5, {sa_family=AF_UNIX, sun_path="/run/x.sock"}, 110) = -1 ENOENT'
    v6 = ('connect(4, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), '
          'inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28)')
    assert remote_attempts(f"{dns}\n{local}\n{unix}\n{v6}") == [dns, v6]


def test_telemetry_is_turned_off_unless_the_user_said_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    from semsearch.embedders.onnx_export import import_onnxruntime

    monkeypatch.delenv("ORT_DISABLE_TELEMETRY", raising=False)
    assert import_onnxruntime().InferenceSession
    assert os.environ["ORT_DISABLE_TELEMETRY"] == "1"
    monkeypatch.setenv("ORT_DISABLE_TELEMETRY", "0")
    import_onnxruntime()
    assert os.environ["ORT_DISABLE_TELEMETRY"] == "0"


def listing(folder: Path, leave_out: str = "") -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if not (leave_out and p.relative_to(folder).parts[0] == leave_out))


@pytest.mark.slow
@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("strace")),
    reason="needs root (for a network namespace), unshare and strace",
)
def test_index_and_query_touch_no_network_and_write_only_the_index_and_the_cache(
    tmp_path: Path, model_cache: Path
) -> None:
    """The default backend (onnx) with onnxruntime's telemetry left to its own default:
    no connection off the machine is even attempted, no ``~/.cache/Microsoft``, nothing
    written in HOME or TMPDIR, nothing in the indexed folder but ``.semsearch/``."""
    home, tmp, root = tmp_path / "home", tmp_path / "tmp", tmp_path / "notes"
    home.mkdir()
    tmp.mkdir()
    copy_sample(root)
    before = listing(root)
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(tmp), "PYTHONPATH": str(REPO),
           "SEMSEARCH_CACHE_DIR": str(model_cache)}
    for name in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME", "SEMSEARCH_BACKEND", "SEMSEARCH_INDEX"):
        env.pop(name, None)
    for args in (["index", str(root)], ["query", "compost and fallen leaves", "--index", str(root), "-k", "3"]):
        trace = tmp_path / f"{args[0]}.strace"
        command = ["unshare", "-n", "strace", "-f", "-qq", "-e", "trace=connect,sendto", "-o", str(trace),
                   sys.executable, "-m", "semsearch", *args]
        done = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, timeout=900, check=False)
        assert done.returncode == 0, done.stderr
        assert remote_attempts(trace.read_text()) == [], args[0]
    info = subprocess.run([sys.executable, "-m", "semsearch", "info", "--index", str(root), "--format", "json"],
                          env=env, capture_output=True, text=True, check=True)
    assert json.loads(info.stdout)["backend"] == "onnx"
    assert not (home / ".cache" / "Microsoft").exists()
    assert listing(home) == [] and listing(tmp) == []
    assert listing(root, leave_out=".semsearch") == before
