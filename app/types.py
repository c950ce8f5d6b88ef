"""Column types shared by every model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, PostgreSQL keeps timestamptz; both read back aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: timestamps must carry a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, in UTC, to the microsecond."""
    return datetime.now(UTC)


# China keeps one zone and no daylight saving: a fixed offset is exact.
BEIJING = timezone(timedelta(hours=8), "北京时间")


def rfc3339(moment: datetime) -> str:
    """UTC, whole seconds, as log entries carry time."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime:
    """A time as log entries and announcements carry it."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def beijing(moment: datetime) -> str:
    """Beijing time, labelled, as staff and the public read it (the site's one format)."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") + " 北京时间"
