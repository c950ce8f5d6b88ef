"""Named schemas of the log's JSON answers: entries, an entry with its
inclusion proof, a consistency proof.

The routes build these answers as plain JSON; the models document them for
the OpenAPI document and generated clients, and tests read real answers
through them (unknown fields refused) so that the two cannot drift.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LogEntryBody(BaseModel):
    """One log entry as committed. Its fields depend on its kind (commitment,
    seed, dice, result, failure, annulment, reschedule, inspection...): the
    common ones are named, the others allowed."""

    model_config = ConfigDict(extra="allow")

    kind: str = Field(description="条目类型，如 commitment、seed、result、annulment")
    at: str = Field(description="记入时间（RFC 3339）")
    draw: str | None = Field(default=None, description="所涉抽查编号")


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LogEntry(_Closed):
    index: int = Field(description="条目序号，从 0 起")
    entry: LogEntryBody
    entry_b64: str = Field(description="条目原文（RFC 8785 JSON）的 base64")
    leaf_hash: str = Field(description="叶哈希（RFC 6962，base64）")


class LogEntries(_Closed):
    tree_size: int = Field(description="日志当前大小")
    start: int
    end: int = Field(description="不含")
    entries: list[LogEntry]


class LogEntryWithProof(LogEntry):
    tree_size: int = Field(description="证明所对的日志大小")
    root_hash: str = Field(description="该大小的根哈希（base64）")
    inclusion_proof: list[str] = Field(description="包含证明（base64 哈希，RFC 6962）")


class ConsistencyProof(_Closed):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str] = Field(description="一致性证明（base64 哈希，RFC 6962）")
