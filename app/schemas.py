"""Schemas shared across features: pages of results."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    total: int = Field(description="Matching records in all pages")
    page: int
    page_size: int


MAX_PAGE_SIZE = 500
