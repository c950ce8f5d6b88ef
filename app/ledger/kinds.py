"""The kinds of the log's entries (../shared/spec/transparency-log.md, section 1).

A StrEnum is its text: an entry holding `EntryKind.SEED` is the same JSON, and
the same bytes, as one holding "seed".
"""

from __future__ import annotations

from enum import StrEnum


class EntryKind(StrEnum):
    COMMITMENT = "commitment"  # the frame is frozen, before any seed exists
    SEED = "seed"  # the seed is revealed
    RESULT = "result"  # the draw ran
    FAILURE = "failure"  # the draw could not complete
    ANNULMENT = "annulment"  # a draw is annulled (never deleted)
    INSPECTION = "inspection"  # an inspection outcome is published
    RESCHEDULE = "reschedule"  # an announced ceremony is postponed, before its time
    DICE = "dice"  # dice+drand only: the confirmed digits, before the round's time
