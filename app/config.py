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
    log_origin: str = Field(
        default="hengyang.yjj/draws", description="The origin line of the public log."
    )
    ceremony_window_minutes: int = Field(
        default=120,
        ge=5,
        le=24 * 60,
        description="How long after the announced ceremony time dice digits are accepted.",
    )
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, description="Largest import file.")
    max_body_bytes: int = Field(
        default=1024 * 1024, description="Largest request body other than a file upload."
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
