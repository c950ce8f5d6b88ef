"""Schemas shared across features: pages of results."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Path
from pydantic import BaseModel, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    total: int = Field(description="Matching records in all pages")
    page: int
    page_size: int


MAX_PAGE_SIZE = 500

# Bounds that every database accepts: a number past them names nothing.
MAX_RECORD_ID = 2**31 - 1
RecordId = Annotated[int, Path(ge=1, le=MAX_RECORD_ID, description="记录编号")]
