"""``semsearch serve``: the real HTTP server in a child process, on a free loopback port,
asked by a real HTTP client (httpx). The fast fake embedder serves the API tests; one
test uses the real model end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from .live_process import LiveProcess, indexed_copy, serving

pytestmark = pytest.mark.slow  # a real HTTP server in a child process: out of the fast tier

TOKEN = "a-long-enough-test-token"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return indexed_copy(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def server(corpus: Path) -> str:
    with LiveProcess("serve", corpus, "--port", "0") as proc:
        yield serving(proc)


def test_query_answers_in_the_json_schema_of_the_cli(server: str, corpus: Path) -> None:
    reply = httpx.get(f"{server}/query", params={"q": "compost kitchen scraps", "top_k": 3}, timeout=60)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["root"] == str(corpus) and data["mode"] == "hybrid" and len(data["results"]) == 3
    hit = data["results"][0]
    assert list(hit) == ["rank", "score", "path", "start_line", "end_line", "text", "dense", "lexical", "root",
                         "relpath"]
    assert hit["rank"] == 1 and hit["path"] == hit["relpath"] and (corpus / hit["path"]).is_file()
    # The same hits as the command line's --format json, run from the indexed folder.
    cli = subprocess.run([sys.executable, str(Path(__file__).with_name("crash_child.py")), "--", "query",
                          "compost kitchen scraps", "-k", "3", "--index", str(corpus), "--format", "json"],
                         capture_output=True, text=True, timeout=120, cwd=corpus, check=False)
    assert cli.returncode == 0, cli.stderr
    # The CLI prints paths relative to the current folder (here the root) and adds `root` and
    # `relpath`; the server keeps the library's root-relative `path`.
    shown = [{**{key: h[key] for key in hit}, "path": h["relpath"]} for h in json.loads(cli.stdout)]
    assert shown == data["results"]


def test_modes_filters_and_post(server: str) -> None:
    for mode in ("dense", "lexical", "hybrid"):
        data = httpx.get(f"{server}/query", params={"q": "sourdough starter", "mode": mode}, timeout=60).json()
        assert data["mode"] == mode and data["results"], data
    only = httpx.get(f"{server}/query", params=[("q", "notes"), ("path", "garden/*"), ("chunks", "true")],
                     timeout=60).json()["results"]
    assert only and all(h["path"].startswith("garden/") for h in only)
    posted = httpx.post(f"{server}/query", json={"query": "sourdough starter", "top_k": 2, "per_file": 2,
                                                 "min_score": 0.0}, timeout=60)
    assert posted.status_code == 200 and 1 <= len(posted.json()["results"]) <= 2
    floor = httpx.get(f"{server}/query", params={"q": "sourdough", "min_score": 2.0}, timeout=60).json()
    assert floor["results"] == []


def test_context_block(server: str, corpus: Path) -> None:
    data = httpx.get(f"{server}/context", params={"q": "sourdough starter", "max_tokens": 400}, timeout=60).json()
    assert data["root"] == str(corpus) and data["query"] == "sourdough starter"
    assert 0 < data["tokens"] <= 400 and data["passages"] and data["text"].startswith("[1] ")
    first = data["passages"][0]
    assert f"{first['path']}:{first['start_line']}-{first['end_line']}" in data["text"]


def test_bad_requests_are_refused_with_a_reason(server: str) -> None:
    assert httpx.get(f"{server}/query", params={"q": "x", "mode": "fuzzy"}, timeout=60).status_code == 422
    assert httpx.get(f"{server}/query", params={"q": "x", "top_k": 0}, timeout=60).status_code == 422
    blank = httpx.get(f"{server}/query", params={"q": "   "}, timeout=60)
    assert blank.status_code == 400 and "empty" in blank.json()["error"]
    both = httpx.post(f"{server}/similar", json={"file": "a.md", "text": "x"}, timeout=60)
    assert both.status_code == 400 and "either" in both.json()["error"]


def test_similar_info_and_schema(server: str, corpus: Path) -> None:
    data = httpx.get(f"{server}/similar", params={"file": "garden/composting.md", "top_k": 3}, timeout=60).json()
    assert data["file"] == "garden/composting.md" and len(data["results"]) == 3
    assert "garden/composting.md" not in [h["path"] for h in data["results"]]
    by_text = httpx.post(f"{server}/similar", json={"text": "bread flour yeast"}, timeout=60).json()
    assert by_text["results"]
    info = httpx.get(f"{server}/info", timeout=60).json()
    assert info["root"] == str(corpus) and info["files"] == 52 and info["stale"] == 0
    schema = httpx.get(f"{server}/openapi.json", timeout=60).json()
    assert {"/query", "/context", "/similar", "/passage", "/info", "/health"} <= set(schema["paths"])
    assert httpx.get(f"{server}/docs", timeout=60).status_code == 404  # no page that loads scripts from the web


def test_passage_reads_lines_of_indexed_files_only(server: str, corpus: Path) -> None:
    lines = (corpus / "garden/composting.md").read_text().splitlines()
    ok = httpx.get(f"{server}/passage", params={"path": "garden/composting.md", "start_line": 2, "end_line": 4},
                   timeout=60).json()
    assert ok["text"] == "\n".join(lines[1:4]) and (ok["start_line"], ok["end_line"]) == (2, 4)
    assert ok["total_lines"] == len(lines) and not ok["truncated"]
    refused = {
        "../secret.txt": 403,
        "garden/../../secret.txt": 403,
        str(corpus.parent / "secret.txt"): 403,
        "/etc/passwd": 403,
        ".env": 404,  # hidden: never indexed, so never readable
        ".semsearch/catalog.sqlite": 404,
        "no/such.md": 404,
    }
    for path, status in refused.items():
        reply = httpx.get(f"{server}/passage", params={"path": path}, timeout=60)
        assert reply.status_code == status, (path, reply.text)
        assert "never-readable" not in reply.text and "outside the root" not in reply.text
    past = httpx.get(f"{server}/passage", params={"path": "garden/composting.md", "start_line": 10_000}, timeout=60)
    assert past.status_code == 400


def test_the_host_header_must_name_the_loopback(server: str) -> None:
    # A page whose domain points at 127.0.0.1 (DNS rebinding) cannot read the notes.
    reply = httpx.get(f"{server}/health", headers={"Host": "attacker.example"}, timeout=60)
    assert reply.status_code == 403
    assert httpx.get(f"{server}/health", headers={"Host": "localhost:1"}, timeout=60).status_code == 200


def test_many_concurrent_clients(server: str) -> None:
    queries = ["compost", "sourdough starter", "marathon training", "kyoto temples", "log rotation"] * 8

    def ask(q: str) -> tuple[int, list]:
        reply = httpx.get(f"{server}/query", params={"q": q, "top_k": 5}, timeout=120)
        return reply.status_code, reply.json()["results"]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, queries))
    assert all(status == 200 and hits for status, hits in answers)
    # The same question gets the same answer whatever else is being asked meanwhile.
    for i, q in enumerate(queries):
        assert answers[i][1] == answers[i % 5][1], q


def test_a_token_is_checked(corpus: Path) -> None:
    with LiveProcess("serve", corpus, "--port", "0", env={"SEMSEARCH_TOKEN": TOKEN}) as proc:
        url = serving(proc)
        assert httpx.get(f"{url}/health", timeout=60).status_code == 401
        wrong = httpx.get(f"{url}/health", headers={"Authorization": "Bearer wrong-token-wrong-token"}, timeout=60)
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert httpx.get(f"{url}/openapi.json", timeout=60).status_code == 401
        good = httpx.get(f"{url}/health", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        assert good.status_code == 200 and good.json()["status"] == "ok"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1"])
def test_listening_beyond_the_loopback_needs_a_token(corpus: Path, host: str) -> None:
    with LiveProcess("serve", corpus, "--host", host, "--port", "0") as proc:
        assert proc.proc.wait(120) == 2
        errors = [line for line in proc.lines if line.strip()]
    assert len(errors) == 1 and "without a token" in errors[0] and "--token" in errors[0], errors


def test_a_short_token_or_a_busy_port_is_one_line(corpus: Path, server: str) -> None:
    with LiveProcess("serve", corpus, "--port", "0", "--token", "short") as proc:
        assert proc.proc.wait(120) == 2
    assert "too short" in proc.lines[-1]
    port = server.rsplit(":", 1)[1]
    with LiveProcess("serve", corpus, "--port", port) as proc:
        assert proc.proc.wait(120) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.lines[-1], proc.lines


def test_no_index_is_one_line(tmp_path: Path) -> None:
    with LiveProcess("serve", tmp_path, "--port", "0") as proc:
        assert proc.proc.wait(120) == 2
    assert "no index found" in proc.lines[-1]


def test_ctrl_c_stops_it_with_130(corpus: Path) -> None:
    with LiveProcess("serve", corpus, "--port", "0") as proc:
        serving(proc)
        assert proc.interrupt() == 130
    assert "stopped serving" in proc.lines[-1]


def test_real_model_over_http(sample_copy: Path) -> None:
    with LiveProcess("serve", sample_copy, "--port", "0", real_model=True) as proc:
        url = serving(proc)
        # No word in common with the answer: found by meaning.
        data = httpx.get(f"{url}/query", params={"q": "what to do with kitchen scraps and fallen leaves",
                                                 "mode": "dense"}, timeout=120).json()
        assert data["results"][0]["path"] == "garden/composting.md"


def test_serve_watch_keeps_answers_fresh(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "first.md").write_text("The first note, about sourdough.\n")
    with LiveProcess("serve", root, "--port", "0", "--watch") as proc:  # no index yet: made first
        url = serving(proc)
        assert httpx.get(f"{url}/health", timeout=60).json()["watching"] is True
        before = httpx.get(f"{url}/query", params={"q": "sourdough", "mode": "lexical"}, timeout=60).json()
        assert [h["path"] for h in before["results"]] == ["first.md"]
        (root / "second.md").write_text("A second note, about marmalade.\n")
        proc.wait_for(r"added second\.md")
        for _ in range(600):  # the server follows the update once it is complete
            data = httpx.get(f"{url}/query", params={"q": "marmalade", "mode": "lexical"}, timeout=60).json()
            if data["results"]:
                break
            time.sleep(0.1)
        assert [h["path"] for h in data["results"]] == ["second.md"] and data["generation"] != before["generation"]
        proc.proc.terminate()  # SIGTERM stops it as Ctrl-C does
        assert proc.proc.wait(60) == 130
