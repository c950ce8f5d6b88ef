"""The states of a draw."""

from __future__ import annotations

from enum import StrEnum


class DrawStatus(StrEnum):
    FROZEN = "frozen"  # committed; the seed is still to come
    DONE = "done"  # seeded and drawn
    FAILED = "failed"  # seeded, but the draw could not complete (logged)
    ANNULLED = "annulled"  # annulled in public; stays in the log


# A live draw stands for its plan: the plan gets no other until it is annulled or failed.
LIVE = frozenset({DrawStatus.FROZEN, DrawStatus.DONE})
