"""A Model Context Protocol server (the official ``mcp`` SDK, low-level API, stdio) that
lets an agent search an index: tools ``search``, ``context`` (a prompt-ready block),
``similar``, ``get_passage`` and ``index_status``. Results carry path, line range, score and text, so an agent can cite
them; ``get_passage`` reads only indexed files inside the indexed folder, a bounded
amount at a time. Each tool answers JSON (as text, and as structured content) in the
machine schema of ``--format json``.

The low-level API is used because the high-level one configures the root logger when
it is made; the library changes no process-wide state.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from . import __version__, answers, defaults
from .errors import SemsearchError
from .live import LiveIndex
from .passages import MAX_CHARS, MAX_LINES

if TYPE_CHECKING:
    import mcp_types

ModeName = Literal["hybrid", "dense", "lexical"]


class SearchArgs(BaseModel):
    query: str = Field(min_length=1, description="What to look for, in plain words (a question, a topic, a name).")
    k: int = Field(defaults.TOP_K, ge=1, le=100, description="How many results.")
    mode: ModeName = Field(defaults.MODE, description="hybrid: meaning and words (best in general); dense: meaning "
                           "only; lexical: words only (BM25), for names, codes and exact terms.")
    path: list[str] | None = Field(None, description="Only files matching one of these globs, e.g. ['notes/*.md'].")
    per_file: int = Field(defaults.PER_FILE, ge=1, le=20, description="Passages per file at most.")
    min_score: float | None = Field(None, description="Leave out results scoring below this (the mode's score).")


class ContextArgs(SearchArgs):
    max_tokens: int = Field(defaults.CONTEXT_TOKENS, ge=50, le=32_000, description="The block's budget, in tokens.")


class SimilarArgs(BaseModel):
    path: str | None = Field(None, description="An indexed file (a path from a search result); it is left out.")
    text: str | None = Field(None, description="Or a piece of text to find related files for.")
    k: int = Field(defaults.TOP_K, ge=1, le=100, description="How many files.")


class PassageArgs(BaseModel):
    path: str = Field(min_length=1, description="An indexed file, relative to the indexed folder (from a result).")
    start_line: int = Field(1, ge=1, description="First line, 1-based.")
    end_line: int | None = Field(None, ge=1, description=f"Last line, inclusive (at most {MAX_LINES} lines and "
                                    f"{MAX_CHARS} characters are returned; 'truncated' says when cut).")


class NoArgs(BaseModel):
    pass


def _tools(live: LiveIndex) -> dict[str, tuple[str, type[BaseModel], Callable[[Any], dict[str, Any]]]]:
    """name -> (description, arguments, what it does)."""
    return {
        "search": (
            (f"Search the notes and documents indexed under {live.root} by meaning and by words. Returns the best "
            "passages, best first, each with path (relative to root), start_line, end_line, score and text: cite "
            "them as path:start_line-end_line."),
            SearchArgs,
            lambda a: answers.search(live, a.query, mode=a.mode, top_k=a.k, min_score=a.min_score,
                                     path_glob=a.path or (), per_file=a.per_file),
        ),
        "context": (
            (f"The best passages for a query over the notes under {live.root}, as one block ready to read, within "
             "max_tokens: each passage under its citation [n] path:start-end, overlapping passages merged."),
            ContextArgs,
            lambda a: answers.context(live, a.query, max_tokens=a.max_tokens, mode=a.mode, top_k=a.k,
                                      min_score=a.min_score, path_glob=a.path or (), per_file=a.per_file),
        ),
        "similar": (
            ("Find the indexed files most similar to an indexed file (give path) or to a piece of text (give text). "
            "Each result carries the file's passage closest to the source."),
            SimilarArgs,
            lambda a: answers.similar(live, file=a.path, text=a.text, top_k=a.k),
        ),
        "get_passage": (
            ("Read lines of an indexed file (e.g. more context around a search result). Only indexed files inside "
            "the indexed folder can be read, a bounded amount per call."),
            PassageArgs,
            lambda a: answers.passage(live, a.path, a.start_line, a.end_line),
        ),
        "index_status": (
            ("What is indexed: root folder, model, number of files and passages, when it was updated, how many "
            "files changed since (stale), and whether the index is kept fresh by this server."),
            NoArgs,
            lambda _a: answers.status(live),
        ),
    }


def create_server(live: LiveIndex) -> Any:
    """The MCP server (``mcp.server.lowlevel.Server``) over ``live``; run it with :func:`run_stdio`."""
    import anyio
    import mcp_types as types
    from mcp.server.lowlevel import Server

    tools = _tools(live)

    async def list_tools(_ctx: Any, _params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[
            types.Tool(name=name, description=description, input_schema=args.model_json_schema(),
                       annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False))
            for name, (description, args, _) in tools.items()
        ])

    async def call_tool(_ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        if params.name not in tools:
            return _error(f"unknown tool {params.name!r}; the tools are {', '.join(tools)}")
        _, model, run = tools[params.name]
        try:
            arguments = model.model_validate(params.arguments or {})
            data = await anyio.to_thread.run_sync(run, arguments)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
            return _error(f"invalid arguments for {params.name}: {problems}")
        except SemsearchError as exc:
            return _error(str(exc))
        text = json.dumps(data, ensure_ascii=False)
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)], structured_content=data)

    return Server("semsearch", version=__version__, on_list_tools=list_tools, on_call_tool=call_tool,
                  instructions=f"Semantic search over the text files in {live.root}. Use `search` first, then "
                  "`get_passage` for more context around a result; cite results as path:start_line-end_line.")


def _error(message: str) -> mcp_types.CallToolResult:
    import mcp_types as types

    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def run_stdio(live: LiveIndex) -> None:
    """Serve MCP over this process's stdin and stdout until the client closes them."""
    import anyio
    from mcp.server.stdio import stdio_server

    server = create_server(live)

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(main)
