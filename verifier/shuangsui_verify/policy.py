"""C2SP tlog-policy: known logs, known witnesses and the quorum, and a checkpoint's
acceptance under them (signed by a listed log, cosigned by a quorum of witnesses)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .note import (
    COSIGNATURE_V1,
    ED25519,
    Checkpoint,
    NoteError,
    VerifierKey,
    cosignature_time,
    parse_checkpoint,
    parse_note,
    parse_vkey,
    verify_signed_by,
)

MAX_ITEMS = 256  # logs, witnesses and groups each; the spec asks for at least 32


class PolicyError(ValueError):
    """A policy file that does not follow tlog-policy."""


@dataclass(frozen=True, slots=True)
class Group:
    threshold: int
    members: tuple[str, ...]


@dataclass
class Policy:
    logs: list[VerifierKey] = field(default_factory=list)
    witnesses: dict[str, VerifierKey] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    quorum: str = ""

    def log_only(self, extra_logs: tuple[VerifierKey, ...] = ()) -> Policy:
        """The same logs, no witnesses asked for."""
        return Policy(logs=[*self.logs, *extra_logs], quorum="none")

    def satisfied(self, cosigned: set[str], name: str | None = None) -> bool:
        """Whether the witnesses in `cosigned` make up the quorum (or group `name`)."""
        name = self.quorum if name is None else name
        if name == "none":
            return True
        if name in self.witnesses:
            return name in cosigned
        group = self.groups[name]
        held = sum(self.satisfied(cosigned, m) for m in group.members)
        return held >= group.threshold


def _fields(line: str) -> list[str]:
    return line.replace("\t", " ").split()


def parse_policy(data: bytes) -> Policy:
    """A policy file's bytes; names are opaque octets (decoded as UTF-8 with escapes)."""
    if any(b < 0x20 and b not in (0x09, 0x0A) or b == 0x7F for b in data):
        raise PolicyError("the policy holds a control character other than tab and newline")
    text = data.decode("utf-8", "surrogateescape")
    policy = Policy()
    names: set[str] = {"none"}
    publics: dict[str, set[bytes]] = {"log": set(), "witness": set()}
    quorums = 0
    for number, raw in enumerate(text.split("\n"), 1):
        words = _fields(raw)
        if not words or words[0].startswith("#"):
            continue
        keyword, args = words[0], words[1:]
        try:
            if keyword == "log" and len(args) in (1, 2):
                key = parse_vkey(args[0], kind=ED25519)
                _unique(publics["log"], key, "log")
                policy.logs.append(key)
            elif keyword == "witness" and len(args) in (2, 3):
                _new_name(names, args[0])
                key = parse_vkey(args[1], kind=COSIGNATURE_V1)
                _unique(publics["witness"], key, "witness")
                policy.witnesses[args[0]] = key
            elif keyword == "group" and len(args) >= 3:
                _new_name(names, args[0])
                policy.groups[args[0]] = _group(args[1], args[2:], names)
            elif keyword == "quorum" and len(args) == 1:
                if args[0] not in names:
                    raise PolicyError(f"the quorum {args[0]!r} is not defined before")
                policy.quorum, quorums = args[0], quorums + 1
            else:
                raise PolicyError(f"unknown or malformed line {keyword!r}")
            if max(len(policy.logs), len(policy.witnesses), len(policy.groups)) > MAX_ITEMS:
                raise PolicyError(f"more than {MAX_ITEMS} logs, witnesses or groups")
        except NoteError as exc:
            raise PolicyError(f"line {number}: {exc}") from exc
        except PolicyError as exc:
            raise PolicyError(f"line {number}: {exc}") from exc
    if quorums != 1:
        raise PolicyError(f"a policy has exactly one quorum line, this one {quorums}")
    return policy


def _new_name(names: set[str], name: str) -> None:
    if name in names:
        raise PolicyError(f"the name {name!r} is defined twice (or is none)")
    names.add(name)


def _unique(seen: set[bytes], key: VerifierKey, what: str) -> None:
    if key.public in seen:
        raise PolicyError(f"duplicate {what} key {key.name}")
    seen.add(key.public)


def _group(threshold: str, members: list[str], names: set[str]) -> Group:
    if len(set(members)) != len(members):
        raise PolicyError("a group lists a member twice")
    for member in members:
        if member == "none" or member not in names:
            raise PolicyError(f"the group member {member!r} is not defined before")
    if threshold == "all":
        k = len(members)
    elif threshold == "any":
        k = 1
    elif threshold.isascii() and threshold.isdigit() and not threshold.startswith("0"):
        k = int(threshold)
    else:
        raise PolicyError(f"the threshold {threshold!r} is not all, any or a decimal")
    if not 1 <= k <= len(members):
        raise PolicyError(f"the threshold {k} is not between 1 and {len(members)}")
    return Group(k, tuple(members))


@dataclass(frozen=True, slots=True)
class Accepted:
    checkpoint: Checkpoint
    log: VerifierKey
    cosigned: dict[str, int]  # witness name -> cosignature time


def accept(note_text: str, policy: Policy, extra_logs: tuple[VerifierKey, ...] = ()) -> Accepted:
    """The checkpoint, if a log of the policy (or `extra_logs`) for its origin signed it
    and the policy's quorum of witnesses cosigned it; NoteError otherwise."""
    note = parse_note(note_text)
    checkpoint = parse_checkpoint(note.text)
    logs = [k for k in [*policy.logs, *extra_logs] if k.name == checkpoint.origin]
    if not logs:
        raise NoteError(f"no log key for the origin {checkpoint.origin!r}")
    signed = verify_signed_by(note, logs)
    if not signed:
        raise NoteError(f"not signed by a log key for {checkpoint.origin!r}")
    cosigned: dict[str, int] = {}
    for name, key in policy.witnesses.items():
        when = cosignature_time(note, key)
        if when is not None:
            cosigned[name] = when
    if not policy.satisfied(set(cosigned)):
        raise NoteError(
            f"the quorum {policy.quorum!r} is not met: cosigned by {sorted(cosigned) or 'none'}"
        )
    return Accepted(checkpoint, signed[0], cosigned)
