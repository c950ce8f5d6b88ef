"""GET /api/v1/draws/{public_id}/proof: the draw's result entry as a C2SP tlog-proof."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse

from app.access.policy import PUBLIC, allow
from app.db import SessionDep
from app.downloads import attachment
from app.draws import service
from app.errors import PROBLEM_RESPONSES
from app.ledger import proofs
from app.routing import TransactionalRoute

router = APIRouter(
    route_class=TransactionalRoute, prefix="/api/v1", tags=["draws"], responses=PROBLEM_RESPONSES
)

EXAMPLE = (
    "c2sp.org/tlog-proof@v1\n"
    "extra eyJhdCI6IjIwMjQtMDMtMDFUMDk6MDA6MDBaIiwiZHJhdyI6IkhZLTIwMjQtMDAwMSIsImtpbmQiOiJyZXN1bHQifQ==\n"
    "index 2\n"
    "hXw1vzS7YpOdBvNXyJ0IpeI5oXikq+NVvyDRG7Bu6Nw=\n"
    "eZYf9WzW3mU5F7NL4aHdWwu2Q5s1JmE0hY9hYk4K9o8=\n"
    "\n"
    "yjj.hengyang.gov.cn/shuangsui/tlog\n"
    "3\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— yjj.hengyang.gov.cn/shuangsui/tlog Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeO…\n"
    "— witness.example.org/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWX…\n"
)
PROOF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "C2SP tlog-proof@v1（https://c2sp.org/tlog-proof）：extra 行为结果条目的原始字节"
            "（RFC 8785，base64），index 行为条目序号，其后为包含证明，空行后为带见证人联署的检查点。"
            "用 `python verify.py FILE.tlog-proof --key 公钥`（或 `--policy 策略文件`）离线核对。"
        ),
        "content": {
            "text/plain": {
                "schema": {"type": "string", "format": "c2sp-tlog-proof-v1"},
                "example": EXAMPLE,
            }
        },
        "headers": {
            "X-Log-Index": {"description": "结果条目的序号", "schema": {"type": "integer"}},
            "X-Tree-Size": {
                "description": "证明所对检查点的日志大小",
                "schema": {"type": "integer"},
            },
        },
    }
}
PublicId = Annotated[str, Path(max_length=64, description="抽查编号，如 HY-2024-0001")]


def _proof(request: Request, session: SessionDep, public_id: str) -> proofs.DrawProof:
    service.get_draw(session, public_id)  # an unknown draw is a 404 naming it
    return proofs.result_proof(session, request.app.state.signer, public_id)


def _headers(proof: proofs.DrawProof) -> dict[str, str]:
    return {"X-Log-Index": str(proof.index), "X-Tree-Size": str(proof.tree_size)}


@router.get(
    "/draws/{public_id}/proof",
    dependencies=[allow(PUBLIC)],
    summary="结果条目的离线证明（C2SP tlog-proof@v1）",
    response_class=PlainTextResponse,
    responses=PROOF_RESPONSE,
)
def draws_proof(request: Request, session: SessionDep, public_id: PublicId) -> PlainTextResponse:
    proof = _proof(request, session, public_id)
    return PlainTextResponse(proof.text, media_type=proofs.MEDIA_TYPE, headers=_headers(proof))


@router.get(
    "/draws/{public_id}/proof.tlog-proof",
    dependencies=[allow(PUBLIC)],
    summary="下载结果条目的离线证明（.tlog-proof 文件）",
    response_class=PlainTextResponse,
    responses=PROOF_RESPONSE,
)
def draws_proof_download(
    request: Request, session: SessionDep, public_id: PublicId
) -> PlainTextResponse:
    proof = _proof(request, session, public_id)
    name = f"{public_id}.{proofs.EXTENSION}"
    return PlainTextResponse(
        proof.text, media_type=proofs.MEDIA_TYPE, headers=_headers(proof) | attachment(name, name)
    )
