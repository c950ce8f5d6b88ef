"""C2SP tlog-policy files: known logs, known witnesses, the quorum — pure.

    log <vkey> [<url>]
    witness <name> <vkey> [<url>]
    group <name> all|any|<k> <name>...
    quorum <name>|none

The same file configures the service (which witnesses to ask: those with a URL,
the witness's submission prefix) and the verifier (what it accepts).

>>> p = parse_policy("quorum none\\n")
>>> p.quorum, p.satisfied(set())
('none', True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.ledger.checkpoint import NoteError, Verifier, parse_verifier_key
from app.ledger.cosignature import CosignatureError, Cosigner, parse_cosigner_vkey

# "at least up to 32 logs, 32 witnesses, and 32 groups"; a bound keeps a hostile file small.
MAX_ITEMS = 256
WHITESPACE = " \t"
NEWLINE = b"\n"


class PolicyError(ValueError):
    """A policy file that breaks the tlog-policy rules (the message names the line)."""


@dataclass(frozen=True, slots=True)
class PolicyLog:
    vkey: str
    verifier: Verifier
    url: str | None


@dataclass(frozen=True, slots=True)
class PolicyWitness:
    name: str
    vkey: str
    cosigner: Cosigner
    url: str | None


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    logs: tuple[PolicyLog, ...]
    witnesses: tuple[PolicyWitness, ...]
    groups: tuple[Group, ...]
    quorum: str
    _groups: dict[str, Group] = field(default_factory=dict, repr=False, compare=False)

    def witness(self, name: str) -> PolicyWitness | None:
        return next((w for w in self.witnesses if w.name == name), None)

    def satisfied(self, cosigned: set[str]) -> bool:
        """Is the quorum met when the witnesses named in `cosigned` cosigned?"""
        if self.quorum == "none":
            return True
        return self._witnessed(self.quorum, cosigned)

    def _witnessed(self, name: str, cosigned: set[str]) -> bool:
        group = self._groups.get(name)
        if group is None:
            return name in cosigned
        count = sum(1 for member in group.members if self._witnessed(member, cosigned))
        return count >= group.threshold


def _split(line: str) -> list[str]:
    out: list[str] = []
    current = ""
    for char in line:
        if char in WHITESPACE:
            if current:
                out.append(current)
            current = ""
        else:
            current += char
    if current:
        out.append(current)
    return out


def _threshold(text: str, members: int, where: str) -> int:
    if text == "all":
        return members
    if text == "any":
        return 1
    if not text.isascii() or not text.isdigit() or (text.startswith("0")):
        raise PolicyError(f"{where}：阈值“{text}”应为 all、any 或不以 0 开头的十进制数")
    k = int(text)
    if not 1 <= k <= members:
        raise PolicyError(f"{where}：阈值 {k} 须在 1 与成员数 {members} 之间")
    return k


def parse_policy(data: bytes | str, *, require_quorum: bool = True) -> Policy:
    """A policy from its file; PolicyError (in Chinese, naming the line) otherwise.

    `require_quorum=False` reads a file that only lists logs (a witness's configuration).
    """
    raw = data.encode() if isinstance(data, str) else data
    for offset, octet in enumerate(raw):
        if (octet < 0x20 and octet not in (0x09, 0x0A)) or octet == 0x7F:
            number = raw[:offset].count(NEWLINE) + 1
            raise PolicyError(f"策略文件第 {number} 行含不允许的控制字符")
    # High-bit octets are opaque: kept byte for byte, never interpreted.
    text = raw.decode("utf-8", errors="surrogateescape")
    logs: list[PolicyLog] = []
    witnesses: list[PolicyWitness] = []
    groups: dict[str, Group] = {}
    names: set[str] = set()
    log_keys: set[bytes] = set()
    witness_keys: set[bytes] = set()
    quorum: str | None = None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        where = f"策略文件第 {number} 行"
        words = _split(line)
        if not words or words[0].startswith("#"):
            continue
        keyword, args = words[0], words[1:]
        if keyword == "log":
            if len(args) not in (1, 2):
                raise PolicyError(f"{where}：应为 log <公钥> [网址]")
            try:
                verifier = parse_verifier_key(args[0])
            except NoteError as exc:
                raise PolicyError(f"{where}：日志公钥无效（{exc}）") from exc
            public = verifier.public_key.public_bytes_raw()
            if public in log_keys:
                raise PolicyError(f"{where}：重复的日志公钥")
            log_keys.add(public)
            logs.append(PolicyLog(args[0], verifier, args[1] if len(args) == 2 else None))
        elif keyword == "witness":
            if len(args) not in (2, 3):
                raise PolicyError(f"{where}：应为 witness <名称> <公钥> [网址]")
            name = args[0]
            if name == "none" or name in names:
                raise PolicyError(f"{where}：名称“{name}”已定义或为保留名 none")
            try:
                cosigner = parse_cosigner_vkey(args[1])
            except CosignatureError as exc:
                raise PolicyError(f"{where}：见证人公钥无效（{exc}）") from exc
            if cosigner.public_key in witness_keys:
                raise PolicyError(f"{where}：重复的见证人公钥")
            witness_keys.add(cosigner.public_key)
            names.add(name)
            url = args[2] if len(args) == 3 else None
            witnesses.append(PolicyWitness(name, args[1], cosigner, url))
        elif keyword == "group":
            if len(args) < 3:
                raise PolicyError(f"{where}：应为 group <名称> all|any|<k> <成员>...")
            name, members = args[0], args[2:]
            if name == "none" or name in names:
                raise PolicyError(f"{where}：名称“{name}”已定义或为保留名 none")
            for member in members:
                if member not in names:
                    raise PolicyError(f"{where}：成员“{member}”未在此前定义")
            if len(set(members)) != len(members):
                raise PolicyError(f"{where}：同一成员只能列出一次")
            groups[name] = Group(name, _threshold(args[1], len(members), where), tuple(members))
            names.add(name)
        elif keyword == "quorum":
            if len(args) != 1:
                raise PolicyError(f"{where}：应为 quorum <名称>")
            if quorum is not None:
                raise PolicyError(f"{where}：策略文件只能有一行 quorum")
            if args[0] != "none" and args[0] not in names:
                raise PolicyError(f"{where}：quorum 所指“{args[0]}”未在此前定义")
            quorum = args[0]
        else:
            raise PolicyError(f"{where}：不认识的关键字“{keyword}”")
        if max(len(logs), len(witnesses), len(groups)) > MAX_ITEMS:
            raise PolicyError(f"{where}：日志、见证人或分组超过 {MAX_ITEMS} 个")
    if quorum is None:
        if require_quorum:
            raise PolicyError("策略文件缺少 quorum 行（不要求见证时写 quorum none）")
        quorum = "none"
    return Policy(tuple(logs), tuple(witnesses), tuple(groups.values()), quorum, groups)
