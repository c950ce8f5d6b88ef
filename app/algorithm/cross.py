"""Cross-enforcement pairing, 交叉执法 (spec section 7).

>>> cross = Cross(teams=[Team("t-A", "A"), Team("t-B", "B")], targets=["A", "B"])
>>> pair(cross, "seed")
[{'team': 't-A', 'target': 'B'}, {'team': 't-B', 'target': 'A'}]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.algorithm import shape
from app.algorithm.errors import FrameInvalid, NoDerangement
from app.algorithm.tickets import order

MAX_ATTEMPTS = 1000


@dataclass(frozen=True, slots=True)
class Team:
    """A team and the county it belongs to."""

    key: str
    home: str


@dataclass(frozen=True, slots=True)
class Cross:
    """The checked `frame.cross`: as many targets as teams."""

    teams: list[Team]
    targets: list[str]

    def check_feasible(self) -> None:
        """Refuse teams that no pairing can keep away from home.

        Each team rules out at most one target, its home. By Hall's theorem a
        pairing exists unless some set of teams sees fewer targets than it has
        members; a set with two different homes sees every target, and a set
        sharing one home sees all but that one, which is too few only when the
        set is every team. So pairing fails exactly when all teams share one
        home and it is a target.
        """
        homes = {team.home for team in self.teams}
        if len(homes) == 1 and (home := homes.pop()) in self.targets:
            raise NoDerangement(teams=len(self.teams), attempts=0, home=home)


def parse_cross(raw: Any, path: str) -> Cross:
    """The checked form of `frame.cross`.

    Teams are non-empty, with unique keys and a non-empty text home; targets
    are unique keys, exactly as many as teams (a target is part of a ticket id).
    """
    fields = shape.obj(raw, path, ("teams", "targets"))
    teams_path, targets_path = shape.at(path, "teams"), shape.at(path, "targets")
    teams = []
    for index, item in enumerate(shape.array(fields["teams"], teams_path, non_empty=True)):
        team_path = shape.at(teams_path, index)
        team = shape.obj(item, team_path, ("key", "home"))
        teams.append(
            Team(
                shape.key(team["key"], shape.at(team_path, "key")),
                shape.text(team["home"], shape.at(team_path, "home")),
            )
        )
    shape.unique([team.key for team in teams], teams_path)
    targets = [
        shape.key(target, shape.at(targets_path, index))
        for index, target in enumerate(shape.array(fields["targets"], targets_path))
    ]
    shape.unique(targets, targets_path)
    if len(targets) != len(teams):
        raise FrameInvalid(
            "cross_size", targets_path, f"{len(targets)} targets for {len(teams)} teams"
        )
    return Cross(teams=teams, targets=targets)


def pair(cross: Cross, seed: str) -> list[dict[str, str]]:
    """Teams (by key) paired with targets, no team with its home; NoDerangement if none."""
    teams = sorted(cross.teams, key=lambda team: team.key)
    for attempt in range(MAX_ATTEMPTS):
        targets = _shuffled(cross.targets, attempt, seed)
        if all(team.home != target for team, target in zip(teams, targets, strict=True)):
            # Rejection sampling: every permutation is equally likely on each
            # attempt, so the first one that avoids all homes is a uniformly
            # random pairing among those that do.
            return [
                {"team": team.key, "target": target}
                for team, target in zip(teams, targets, strict=True)
            ]
    raise NoDerangement(teams=len(teams), attempts=MAX_ATTEMPTS)


def _shuffled(targets: list[str], attempt: int, seed: str) -> list[str]:
    """The targets in the order of attempt `attempt`'s tickets."""
    prefix = f"cross:{attempt}:"
    return [ticket_id[len(prefix) :] for _, ticket_id in order(seed, [prefix + t for t in targets])]
