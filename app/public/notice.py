"""The notice of one draw as files: CSV, XLSX and the official PDF.

Each is made from the public view of the draw (views.draw_detail), never from
private fields. The PDF names the issuing bureau and carries what a reader
needs to check it: the log's checkpoint (origin, size, root in hex and in base64
as the checkpoint spells it) and key, the path of the result's tlog-proof, and a
QR code of the page.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.ledger.models import Checkpoint
from app.pools.tabular import write_csv, write_xlsx
from app.public.deadlines import BEIJING

HEADERS = [
    "抽查编号",
    "抽查",
    "分层",
    "企业名称",
    "统一社会信用代码",
    "县市区",
    "类别",
    "检查人员（执法证号）",
    "检查结果",
    "结果公开期限",
]
USCC_COLUMN = HEADERS.index("统一社会信用代码")

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


@dataclass(frozen=True)
class LogState:
    """The signed checkpoint a notice cites, and the key that signed it."""

    origin: str
    size: int
    root_hex: str
    root_b64: str
    key_name: str
    key_id: str
    verifier_key: str
    note: str

    @classmethod
    def of(cls, checkpoint: Checkpoint, verifier_key: str) -> LogState:
        name, key_id, _ = verifier_key.split("+", 2)  # base64 may hold "+"
        return cls(
            origin=checkpoint.note.split("\n", 1)[0],  # the checkpoint's first line
            size=checkpoint.size,
            root_hex=checkpoint.root_hash.hex(),
            root_b64=base64.b64encode(checkpoint.root_hash).decode(),
            key_name=name,
            key_id=key_id,
            verifier_key=verifier_key,
            note=checkpoint.note,
        )


def filenames(detail: dict[str, Any], extension: str) -> tuple[str, str]:
    """The download's Chinese name and its ASCII fallback, e.g. HY-2024-0002.pdf."""
    public_id = detail["public_id"]
    return f"{public_id} {detail['title']}公示.{extension}", f"{public_id}.{extension}"


def rows(detail: dict[str, Any]) -> list[list[str]]:
    """One row per drawn enterprise, in the order of HEADERS."""
    return [
        [
            detail["public_id"],
            detail["title"],
            stratum["label"],
            row["name"],
            row["uscc"],
            row["county_name"],
            row["subtype"],
            "、".join(f"{m['name']}（{m['cert_no']}）" for m in row["team"]),
            row["outcome"]["text"],
            row["outcome"]["deadline"],
        ]
        for stratum in detail["strata"]
        for row in stratum["rows"]
    ]


def csv_bytes(detail: dict[str, Any]) -> bytes:
    """The notice as CSV; the credit codes stay text when Excel opens it."""
    return write_csv(HEADERS, rows(detail), text_columns={USCC_COLUMN})


def xlsx_bytes(detail: dict[str, Any]) -> bytes:
    """The notice as an Excel workbook, columns sized to their content."""
    return write_xlsx(
        HEADERS, rows(detail), sheet_name=detail["public_id"], text_columns={USCC_COLUMN}
    )


def qr_data_uri(url: str) -> str:
    """A QR code of `url` as an SVG data URI (for the PDF, which fetches nothing)."""
    import segno  # imported here: only the PDF needs it

    code = segno.make(url, error="m")
    uri: str = code.svg_data_uri(scale=4, border=2)
    return uri


def pdf_bytes(
    detail: dict[str, Any],
    *,
    log: LogState,
    authority: str,
    page_url: str,
    made_at: datetime,
) -> bytes:
    """The official notice as an A4 PDF."""
    from weasyprint import HTML  # imported here: it loads fonts and Pango on first use

    html = _templates.get_template("notice.html").render(
        d=detail,
        log=log,
        authority=authority,
        page_url=page_url,
        qr=qr_data_uri(page_url),
        made_at=made_at.astimezone(BEIJING),
    )
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf
