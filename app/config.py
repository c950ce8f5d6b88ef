"""Settings, read from the environment with the SHUANGSUI_ prefix."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator may configure."""

    model_config = SettingsConfigDict(env_prefix="SHUANGSUI_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Keys, the SQLite file, uploads.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; sqlite:///... (default, in data_dir) or postgresql+psycopg://...",
    )
    log_origin: str | None = Field(
        default=None,
        description="The public log's origin: the schema-less URL of its /tlog prefix, one per"
        " installation (e.g. yjj.hengyang.gov.cn/shuangsui/tlog). Required by `serve`;"
        " `serve --demo` uses <host>:<port>/tlog; otherwise the name of the data directory's key.",
    )
    witness_policy: Path | None = Field(
        default=None,
        description="A C2SP tlog-policy file: the witnesses (with URLs) each checkpoint is sent to.",
    )
    witness_retry_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often each worker looks for checkpoints a witness has not cosigned yet.",
    )
    ceremony_window_minutes: int = Field(
        default=120,
        ge=5,
        le=24 * 60,
        description="How long after the announced ceremony time dice digits are accepted.",
    )
    issuing_authority: str = Field(
        default="衡阳市应急管理局",
        description="The bureau that issues the public notices, named in every page's header.",
    )
    public_url: str | None = Field(
        default=None,
        description="The site's public address (https://...), for the QR code of a notice;"
        " by default the address the request came to.",
    )
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, description="Largest import file.")
    max_body_bytes: int = Field(
        default=1024 * 1024, description="Largest request body other than a file upload."
    )
    body_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest pause while a request body arrives; then 408 and the connection closed.",
    )
    body_deadline_seconds: float = Field(
        default=300.0, gt=0, description="Longest time a whole request body may take to arrive."
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest time from a connection (or the last answer) to a request's complete headers.",
    )
    keep_alive_seconds: int = Field(
        default=5, gt=0, description="How long an idle keep-alive connection stays open."
    )
    max_header_bytes: int = Field(
        default=16 * 1024, gt=0, description="Largest request line and headers together (431)."
    )
    max_connections: int = Field(
        default=1000, gt=0, description="Open connections per worker; more are answered 503."
    )
    metrics_scrapers: str = Field(
        default="127.0.0.1,::1",
        description="Addresses or networks (comma-separated) that may read /metrics.",
    )
    metrics_key: str | None = Field(
        default=None, description="A bearer token that lets any address read /metrics."
    )
    public_render_rate: str = Field(
        default="60/minute",
        description="Renderings of public pages and notice files per client address and worker.",
    )
    xlsx_max_inflated_bytes: int = Field(
        default=1536 * 1024 * 1024, gt=0, description="An XLSX's members inflated, all together."
    )
    xlsx_max_member_bytes: int = Field(
        default=768 * 1024 * 1024, gt=0, description="One member of an XLSX, inflated."
    )
    xlsx_max_ratio: int = Field(
        default=100, gt=0, description="How much one member of an XLSX may inflate (zip bombs)."
    )

    @property
    def ceremony_window(self) -> timedelta:
        """The announced ceremony's window for entering and confirming digits."""
        return timedelta(minutes=self.ceremony_window_minutes)

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'shuangsui.sqlite3').resolve()}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests build their own Settings instead)."""
    return Settings()
