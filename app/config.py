"""Settings, read from the environment with the SHUANGSUI_ prefix."""

from __future__ import annotations

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
