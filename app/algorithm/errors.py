"""Why a frame, a seed or a draw is refused.

One small family. Each error has a stable English `code` and plain attributes
(`details()`), so the service can write a Chinese sentence a clerk can act on
and the public log can record a failure as data, not as prose.

>>> err = QuotaInfeasible(stratum="songmu", group=None, available=2, asked=3)
>>> err.code, err.details()["available"], str(err)
('quota_infeasible', 2, 'stratum songmu: asked for 3 units, only 2 available')
"""

from __future__ import annotations

from typing import ClassVar


class FrameError(ValueError):
    """Base of every refusal by the draw engine."""

    code: ClassVar[str] = "frame_error"

    def details(self) -> dict[str, object]:
        """The machine-readable facts of this error, `code` included."""
        return {"code": self.code}


class FrameInvalid(FrameError):
    """The frame is malformed: wrong shape, bad key, duplicate key, ...

    `reason` is a stable sub-code (e.g. "duplicate_key", "key_syntax",
    "unknown_field"); `path` says where, e.g. "strata[0].units[3].key";
    `value` is the offending value as text, when there is one.
    """

    code: ClassVar[str] = "frame_invalid"

    def __init__(self, reason: str, path: str, message: str, value: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.reason = reason
        self.path = path
        self.value = value

    def details(self) -> dict[str, object]:
        """The machine-readable facts of this error, `code` included."""
        return {"code": self.code, "reason": self.reason, "path": self.path, "value": self.value}


class QuotaInfeasible(FrameError):
    """A quota asks for more units (or groups) than the frame holds.

    `what` is "units" (a stratum or one of its groups is too small; `group` names
    the group value for per_group strata) or "groups" (max_groups exceeds the
    number of groups; `group` is None).
    """

    code: ClassVar[str] = "quota_infeasible"

    def __init__(
        self, *, stratum: str, group: str | None, available: int, asked: int, what: str = "units"
    ) -> None:
        where = f"stratum {stratum}" + (f", group {group}" if group is not None else "")
        super().__init__(f"{where}: asked for {asked} {what}, only {available} available")
        self.stratum = stratum
        self.group = group
        self.available = available
        self.asked = asked
        self.what = what

    def details(self) -> dict[str, object]:
        """The machine-readable facts of this error, `code` included."""
        return {
            "code": self.code,
            "stratum": self.stratum,
            "group": self.group,
            "available": self.available,
            "asked": self.asked,
            "what": self.what,
        }


class TeamIncomplete(FrameError):
    """A selected unit cannot get a full inspection team.

    `candidates` is how many inspectors were still eligible for the unit;
    `needs_lead` is True when the team failed for want of a lead (no eligible
    inspector from `lead_units`), however many candidates remained.
    """

    code: ClassVar[str] = "team_incomplete"

    def __init__(self, *, unit: str, candidates: int, team_size: int, needs_lead: bool) -> None:
        why = "no eligible lead" if needs_lead else f"only {candidates} eligible inspectors"
        super().__init__(f"unit {unit}: team of {team_size} impossible, {why}")
        self.unit = unit
        self.candidates = candidates
        self.team_size = team_size
        self.needs_lead = needs_lead

    def details(self) -> dict[str, object]:
        """The machine-readable facts of this error, `code` included."""
        return {
            "code": self.code,
            "unit": self.unit,
            "candidates": self.candidates,
            "team_size": self.team_size,
            "needs_lead": self.needs_lead,
        }


class NoDerangement(FrameError):
    """Cross-enforcement teams cannot be paired without one inspecting its home.

    `attempts` is 0 when no such pairing exists at all (every team has the same
    home, `home`, and it is a target); 1000 when the spec's attempts ran out.
    """

    code: ClassVar[str] = "no_derangement"

    def __init__(self, *, teams: int, attempts: int, home: str | None = None) -> None:
        if attempts == 0:
            message = f"all {teams} teams have home {home}: no pairing avoids it"
        else:
            message = f"no pairing of {teams} teams avoided every home in {attempts} attempts"
        super().__init__(message)
        self.teams = teams
        self.attempts = attempts
        self.home = home

    def details(self) -> dict[str, object]:
        """The machine-readable facts of this error, `code` included."""
        return {
            "code": self.code,
            "teams": self.teams,
            "attempts": self.attempts,
            "home": self.home,
        }


class SeedInvalid(FrameError):
    """A seed (or its parts) is not of the form the spec allows.

    `reason` is a stable sub-code: "source", "dice_digits", "drand_value", "dice_drand_value",
    "frame_hash", "shape" or "frame_hash_mismatch".
    """

    code: ClassVar[str] = "seed_invalid"

    def __init__(self, reason: str, message: str, value: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.value = value

    def details(self) -> dict[str, object]:
        """The machine-readable facts of this error, `code` included."""
        return {"code": self.code, "reason": self.reason, "value": self.value}
