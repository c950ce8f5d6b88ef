"""The public, read-only API of the log."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from app.access.policy import PUBLIC, allow
from app.db import SessionDep
from app.errors import PROBLEM_RESPONSES, InvalidInput, NotFound
from app.ledger import store
from app.ledger.answers import ConsistencyProof, LogEntries, LogEntryWithProof
from app.routing import TransactionalRoute

router = APIRouter(
    route_class=TransactionalRoute, prefix="/api/v1/log", tags=["log"], responses=PROBLEM_RESPONSES
)

MAX_ENTRIES_PAGE = 1000
# Larger than any log will grow, and within every database's 64-bit integers.
MAX_LOG_SIZE = 2**62


@router.get(
    "/checkpoint",
    dependencies=[allow(PUBLIC)],
    summary="最新的签名检查点（C2SP signed note）",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
def checkpoint(request: Request, session: SessionDep) -> PlainTextResponse:
    latest = store.signed_checkpoint(session, request.app.state.signer)
    return PlainTextResponse(
        store.published_note(session, latest), media_type="text/plain; charset=utf-8"
    )


@router.get(
    "/key",
    dependencies=[allow(PUBLIC)],
    summary="日志验证公钥（name+hash+base64，Go sumdb/note 格式；换钥期间为新旧两行）",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
def verifier_key(request: Request) -> PlainTextResponse:
    return PlainTextResponse("".join(k + "\n" for k in request.app.state.signer.published_keys))


def _entry_json(session: SessionDep, index: int) -> dict[str, Any]:
    row = store.entry(session, index)
    return {
        "index": row.idx,
        "entry": json.loads(row.body),
        "entry_b64": store.b64(row.body),
        "leaf_hash": store.b64(row.leaf_hash),
    }


@router.get(
    "/entries", dependencies=[allow(PUBLIC)], summary="日志条目（分页）", response_model=LogEntries
)
def entries(
    session: SessionDep,
    start: Annotated[int, Query(ge=0, le=MAX_LOG_SIZE)] = 0,
    end: Annotated[
        int | None, Query(ge=0, le=MAX_LOG_SIZE, description="不含；缺省为 start+100")
    ] = None,
) -> JSONResponse:
    size = store.size(session)
    stop = min(end if end is not None else start + 100, size, start + MAX_ENTRIES_PAGE)
    if end is not None and end < start:
        raise InvalidInput("end 须不小于 start")
    return JSONResponse(
        {
            "tree_size": size,
            "start": start,
            "end": max(stop, start),
            "entries": [_entry_json(session, i) for i in range(start, stop)],
        }
    )


@router.get(
    "/entries/{index}",
    dependencies=[allow(PUBLIC)],
    summary="单条日志条目及其包含证明",
    response_model=LogEntryWithProof,
)
def entry_with_proof(
    request: Request,
    session: SessionDep,
    index: Annotated[int, Path(ge=0, le=MAX_LOG_SIZE, description="条目序号，从 0 起")],
    tree_size: Annotated[
        int | None,
        Query(ge=1, le=MAX_LOG_SIZE, description="证明所对的日志大小；缺省为最新检查点"),
    ] = None,
) -> JSONResponse:
    if index < 0:
        raise NotFound(f"公开日志中没有第 {index} 条")
    data = _entry_json(session, index)
    if tree_size is None:
        tree_size = store.signed_checkpoint(session, request.app.state.signer, covering=index).size
    elif tree_size > store.size(session):
        raise InvalidInput(
            f"日志目前只有 {store.size(session)} 条，无法对大小 {tree_size} 给出证明"
        )
    proof = store.inclusion_proof(session, index, tree_size)
    return JSONResponse(
        data
        | {
            "tree_size": tree_size,
            "root_hash": store.b64(store.root(session, tree_size)),
            "inclusion_proof": [store.b64(h) for h in proof],
        }
    )


@router.get(
    "/proof/consistency",
    dependencies=[allow(PUBLIC)],
    summary="一致性证明：后一个日志包含前一个",
    response_model=ConsistencyProof,
)
def consistency(
    session: SessionDep,
    first: Annotated[int, Query(ge=0, le=MAX_LOG_SIZE)],
    second: Annotated[int, Query(ge=0, le=MAX_LOG_SIZE)],
) -> JSONResponse:
    if second > store.size(session):
        raise InvalidInput(f"日志目前只有 {store.size(session)} 条")
    proof = store.consistency_proof(session, first, second)
    return JSONResponse(
        {
            "first": first,
            "second": second,
            "first_root": store.b64(store.root(session, first)),
            "second_root": store.b64(store.root(session, second)),
            "proof": [store.b64(h) for h in proof],
        }
    )
