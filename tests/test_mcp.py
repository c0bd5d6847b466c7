"""``semsearch mcp``: the real command in a child process, driven by the official MCP
client (the ``mcp`` SDK's stdio client session): initialize, list the tools, call them."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from .live_process import CHILD, indexed_copy

pytestmark = pytest.mark.slow  # an MCP server in a child process: out of the fast tier


def with_session(root: Path, check: Callable[[ClientSession], Awaitable[None]], real_model: bool = False,
                 extra: tuple[str, ...] = ()) -> None:
    """Start ``semsearch mcp ROOT`` (fake embedder unless ``real_model``) and run ``check`` in a session."""
    options = ["--real-model"] if real_model else []
    params = StdioServerParameters(command=sys.executable, args=[str(CHILD), *options, "--", "mcp", str(root), *extra],
                                   env={**os.environ, "NO_COLOR": "1"})

    async def main() -> None:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            with anyio.fail_after(300):
                await session.initialize()
                await check(session)

    with open(os.devnull, "w") as errlog:
        anyio.run(main)


def payload(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data = json.loads(result.content[0].text)
    assert result.structured_content == data
    return data


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = indexed_copy(tmp_path_factory.mktemp("mcp"))
    (root / "escape.md").symlink_to(root.parent / "secret.txt")  # not followed, so not indexed
    return root


def test_tools_search_and_status(corpus: Path) -> None:
    async def check(session: ClientSession) -> None:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == {"search", "context", "similar", "get_passage", "index_status"}
        assert tools["search"].input_schema["required"] == ["query"]
        assert {"query", "k", "mode", "path"} <= set(tools["search"].input_schema["properties"])

        data = payload(await session.call_tool("search", {"query": "sourdough starter", "k": 3}))
        assert data["root"] == str(corpus) and len(data["results"]) == 3
        hit = data["results"][0]
        assert {"path", "start_line", "end_line", "score", "text"} <= set(hit) and (corpus / hit["path"]).is_file()

        only = payload(await session.call_tool("search", {"query": "notes", "mode": "lexical", "path": ["garden/*"]}))
        assert only["results"] and all(h["path"].startswith("garden/") for h in only["results"])

        status = payload(await session.call_tool("index_status", {}))
        assert status["files"] == 52 and status["root"] == str(corpus) and status["watching"] is False

        block = payload(await session.call_tool("context", {"query": "sourdough starter", "max_tokens": 300}))
        assert block["tokens"] <= 300 and block["passages"] and "[1] " in block["text"]

        similar = payload(await session.call_tool("similar", {"path": "garden/composting.md", "k": 2}))
        assert len(similar["results"]) == 2 and similar["file"] == "garden/composting.md"

    with_session(corpus, check)


def test_get_passage_reads_indexed_files_inside_the_root_only(corpus: Path) -> None:
    lines = (corpus / "garden/composting.md").read_text().splitlines()

    async def check(session: ClientSession) -> None:
        data = payload(await session.call_tool("get_passage", {"path": "garden/composting.md", "start_line": 1,
                                                               "end_line": 3}))
        assert data["text"] == "\n".join(lines[:3]) and data["end_line"] == 3
        for path in ("../secret.txt", str(corpus.parent / "secret.txt"), "/etc/passwd", ".env", "escape.md",
                     "garden/../../secret.txt"):
            result = await session.call_tool("get_passage", {"path": path})
            assert result.is_error, path
            text = result.content[0].text
            assert "outside the root" not in text and "never-readable" not in text and "root:" not in text
        bad = await session.call_tool("search", {"query": "x", "mode": "fuzzy"})
        assert bad.is_error and "mode" in bad.content[0].text
        unknown = await session.call_tool("rm", {})
        assert unknown.is_error

    with_session(corpus, check)


def test_real_model_search_finds_by_meaning(sample_copy: Path) -> None:
    async def check(session: ClientSession) -> None:
        data = payload(await session.call_tool("search", {"query": "what to do with kitchen scraps and fallen "
                                                          "leaves", "mode": "dense", "k": 1}))
        hit = data["results"][0]
        assert hit["path"] == "garden/composting.md" and hit["start_line"] >= 1 and hit["text"]

    with_session(sample_copy, check, real_model=True)
