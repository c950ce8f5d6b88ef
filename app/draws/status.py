"""The states of a draw, and the steps its history (and its outcomes') records."""

from __future__ import annotations

from enum import StrEnum


class DrawStatus(StrEnum):
    FROZEN = "frozen"  # committed; the seed is still to come
    DONE = "done"  # seeded and drawn
    FAILED = "failed"  # seeded, but the draw could not complete (logged)
    ANNULLED = "annulled"  # annulled in public; stays in the log


class DrawStep(StrEnum):
    """A step of a draw's plan or ceremony, as its change record names it."""

    CREATE = "create"  # a plan made
    UPDATE = "update"  # a plan changed
    FREEZE = "freeze"
    RESCHEDULE = "reschedule"
    SEED_ENTERED = "seed_entered"
    SEED_WITHDRAWN = "seed_withdrawn"
    SEED_CONFIRMED = "seed_confirmed"
    SEED_DRAND = "seed_drand"
    ANNUL = "annul"


class OutcomeStep(StrEnum):
    """What an inspection outcome's change record says was done."""

    RECORD = "record"  # recorded or corrected, not yet public
    PUBLISH = "publish"  # written to the log


# A live draw stands for its plan: the plan gets no other until it is annulled or failed.
LIVE = frozenset({DrawStatus.FROZEN, DrawStatus.DONE})
