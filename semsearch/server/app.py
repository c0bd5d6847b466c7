"""The HTTP API (FastAPI): query, context, similar, a passage by lines, info, and health, as JSON
in the machine schema of ``--format json`` (see :mod:`semsearch.answers`). The OpenAPI
schema is at ``/openapi.json``; the interactive pages are off (they load scripts from
the network).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .. import __version__, answers, defaults
from ..errors import (
    BadInputError,
    IndexNotFoundError,
    NotFoundError,
    OutsideRootError,
    SemsearchError,
)
from ..live import LiveIndex
from ..search import MODES
from .guard import Guard

Mode = Enum("Mode", {m: m for m in MODES}, type=str)  # type: ignore[misc]

_STATUS = ((OutsideRootError, 403), (NotFoundError, 404), (IndexNotFoundError, 404),
           (BadInputError, 400))


class HitOut(BaseModel):
    rank: int
    score: float
    path: str = Field(description="relative to root")
    start_line: int = Field(description="1-based, inclusive")
    end_line: int
    text: str
    root: str = Field(description="the indexed folder")
    relpath: str = Field(description="relative to root (as --format json names it)")


class ResultsOut(BaseModel):
    root: str = Field(description="the indexed folder; result paths are relative to it")
    generation: int = Field(description="the committed state of the index that answered")
    results: list[HitOut]


class PassageOut(BaseModel):
    root: str
    path: str
    start_line: int
    end_line: int
    total_lines: int
    truncated: bool = Field(description="fewer lines than asked for, to stay within the size bound")
    text: str


class QueryIn(BaseModel):
    query: str = Field(min_length=1, description="what to look for, in plain words")
    mode: Mode = Mode(defaults.MODE)
    top_k: int = Field(defaults.TOP_K, ge=1, le=answers.MAX_TOP_K)
    min_score: float | None = None
    path: list[str] = Field(default_factory=list, description="only files matching one of these globs")
    per_file: int = Field(defaults.PER_FILE, ge=1)
    chunks: bool = Field(False, description="every matching passage, not the best per file")
    query_prompt: str | None = None


class SimilarIn(BaseModel):
    file: str | None = Field(None, description="an indexed file's path, relative to root")
    text: str | None = None
    top_k: int = Field(defaults.TOP_K, ge=1, le=answers.MAX_TOP_K)
    min_score: float | None = None
    path: list[str] = Field(default_factory=list, description="only files matching one of these globs")


def create_app(live: LiveIndex, token: str | None = None, loopback: bool = True,
               local_token: str | None = None) -> Guard:
    """The ASGI app serving ``live``; ``token``, ``loopback`` and ``local_token`` as :class:`Guard` checks them."""
    api = FastAPI(title="semsearch", version=__version__, docs_url=None, redoc_url=None,
                  description="Search a folder of text files by meaning. Paths are relative to `root`.")

    @api.exception_handler(SemsearchError)
    async def _refused(_request: Request, exc: SemsearchError) -> JSONResponse:
        status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)
        return JSONResponse({"error": str(exc)}, status_code=status)

    def _query(body: QueryIn) -> JSONResponse:
        return JSONResponse(answers.search(
            live, body.query, mode=body.mode.value, top_k=body.top_k, min_score=body.min_score, path_glob=body.path,
            per_file=None if body.chunks else body.per_file, query_prompt=body.query_prompt))

    @api.get("/query", response_model=ResultsOut, summary="The passages that best match q")
    def query_get(
        q: Annotated[str, Query(min_length=1, description="what to look for, in plain words")],
        mode: Mode = Mode(defaults.MODE),  # noqa: B008 - an enum member, not a call
        top_k: Annotated[int, Query(ge=1, le=answers.MAX_TOP_K)] = defaults.TOP_K,
        min_score: float | None = None,
        path: Annotated[list[str] | None, Query(description="only files matching one of these globs "
                                                "(repeatable)")] = None,
        per_file: Annotated[int, Query(ge=1)] = defaults.PER_FILE,
        chunks: bool = False,
        query_prompt: str | None = None,
    ) -> Any:
        return _query(QueryIn(query=q, mode=mode, top_k=top_k, min_score=min_score, path=path or [],
                              per_file=per_file, chunks=chunks, query_prompt=query_prompt))

    @api.post("/query", response_model=ResultsOut, summary="The passages that best match a query (JSON body)")
    def query_post(body: QueryIn) -> Any:
        return _query(body)

    @api.get("/context", summary="The best passages for q as one prompt-ready block with citations")
    def context(
        q: Annotated[str, Query(min_length=1, description="what to look for, in plain words")],
        max_tokens: Annotated[int, Query(ge=1, description="the block's budget, in the model's tokens")] = (
            defaults.CONTEXT_TOKENS),
        mode: Mode = Mode(defaults.MODE),  # noqa: B008 - an enum member, not a call
        top_k: Annotated[int, Query(ge=1, le=answers.MAX_TOP_K)] = defaults.TOP_K,
        path: Annotated[list[str] | None, Query(description="only files matching one of these globs "
                                                "(repeatable)")] = None,
    ) -> Any:
        return JSONResponse(answers.context(live, q, max_tokens=max_tokens, mode=mode.value, top_k=top_k,
                                            path_glob=path or ()))

    @api.get("/similar", response_model=ResultsOut, summary="The indexed files most like an indexed file")
    def similar_get(
        file: Annotated[str, Query(description="an indexed file's path, relative to root")],
        top_k: Annotated[int, Query(ge=1, le=answers.MAX_TOP_K)] = defaults.TOP_K,
        min_score: float | None = None,
        path: Annotated[list[str] | None, Query(description="only files matching one of these globs "
                                                "(repeatable)")] = None,
    ) -> Any:
        return JSONResponse(answers.similar(live, file=file, top_k=top_k, min_score=min_score, path_glob=path or ()))

    @api.post("/similar", response_model=ResultsOut, summary="The indexed files most like a file or a text")
    def similar_post(body: SimilarIn) -> Any:
        return JSONResponse(answers.similar(live, file=body.file, text=body.text, top_k=body.top_k,
                                            min_score=body.min_score, path_glob=body.path))

    @api.get("/passage", response_model=PassageOut, summary="Lines of an indexed file (bounded)")
    def passage(
        path: Annotated[str, Query(description="an indexed file's path, relative to root")],
        start_line: Annotated[int, Query(ge=1)] = 1,
        end_line: Annotated[int | None, Query(ge=1, description="default: to the end (within the bound)")] = None,
    ) -> Any:
        return JSONResponse(answers.passage(live, path, start_line, end_line))

    @api.get("/info", summary="What is indexed, and what is stale (as `semsearch info --format json`)")
    def info() -> Any:
        return JSONResponse(answers.status(live))

    @api.get("/health", summary="Whether the server is up, and the generation it serves")
    def health() -> Any:
        return JSONResponse(answers.health(live))

    return Guard(api, token, loopback, local_token)
