"""`shuangsui monitor URL --state FILE`: follow a public log over C2SP tlog-tiles.

Each run reads `<URL>/checkpoint`, checks the log's signature (pinned keys, never
the log's own word), reads the entry bundles `<URL>/tile/entries/<N>[.p/<W>]`
from where the last run stopped, checks them against the level-0 hash tiles
`<URL>/tile/0/<N>[.p/<W>]`, and recomputes the new root from the state's
compact range (the perfect subtrees covering the entries seen) plus the new
leaves: equal to the signed root only if the new tree extends the old one, so
a fork, a rewrite or a rollback is found without trusting any proof the log
gives. With --witness keys, the newest valid cosignature/v1 must be younger
than --max-age (freshness: the log cannot show an old view for long).
--watch USCC reports the new entries naming an enterprise, and later entries
about the draws that named it (an annulment, an inspection).

The state file (JSON, written atomically) holds the last verified checkpoint and
its compact range; it changes only after a run found the log sound.

Exit codes, for cron (an alarm is worth a mail, a failed fetch a retry):
    0  the log is sound, nothing new about the watched enterprises
    1  ALARM: bad signature, fork, rollback, tiles that disagree, stale checkpoint
    2  cannot check now: the log or the state cannot be read, or bad arguments
    3  the log is sound and has new entries about a watched enterprise (printed)
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.ledger import merkle
from app.ledger.checkpoint import NoteError, open_note, parse_checkpoint, parse_verifier_key

OK, ALARM, CANNOT_CHECK, NEWS = 0, 1, 2, 3
TILE_WIDTH = 256
Fetch = Callable[[str], bytes]


class Alarm(Exception):
    """The log is not what a sound log would serve."""


class CannotCheck(Exception):
    """The log (or the state) could not be read this time."""


def tile_path(index: int, width: int | None = None) -> str:
    """tlog-tiles' <N>[.p/<W>]: 3-digit elements, all but the last prefixed with x."""
    digits = f"{index:03d}"
    digits = "0" * (-len(digits) % 3) + digits
    parts = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    path = "/".join([f"x{p}" for p in parts[:-1]] + [parts[-1]])
    return path if width is None else f"{path}.p/{width}"


def split_bundle(data: bytes) -> list[bytes]:
    """An entry bundle's entries: big-endian uint16 length, then the entry."""
    entries, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise Alarm("entry bundle ends inside a length prefix")
        length = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + length > len(data):
            raise Alarm("entry bundle ends inside an entry")
        entries.append(data[at + 2 : at + 2 + length])
        at += 2 + length
    return entries


def root_of(frontier: list[tuple[int, bytes]]) -> bytes:
    """The RFC 6962 root of a compact range [0, size): its subtrees, largest first."""
    if not frontier:
        return _empty()
    root = frontier[-1][1]
    for _, left in reversed(frontier[:-1]):
        root = merkle.node_hash(left, root)
    return root


def _empty() -> bytes:
    return hashlib.sha256(b"").digest()


def push(frontier: list[tuple[int, bytes]], leaf: bytes) -> None:
    frontier.append((0, leaf))
    while len(frontier) >= 2 and frontier[-1][0] == frontier[-2][0]:
        (level, right), (_, left) = frontier.pop(), frontier.pop()
        frontier.append((level + 1, merkle.node_hash(left, right)))


@dataclass
class State:
    origin: str = ""
    size: int = 0
    root: bytes = field(default_factory=_empty)
    checkpoint: str = ""
    frontier: list[tuple[int, bytes]] = field(default_factory=list)
    watched_draws: dict[str, list[str]] = field(default_factory=dict)  # uscc -> draws

    @classmethod
    def load(cls, path: Path) -> State:
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            state = cls(
                origin=data["origin"],
                size=int(data["size"]),
                root=base64.b64decode(data["root"], validate=True),
                checkpoint=data["checkpoint"],
                frontier=[(int(lv), base64.b64decode(h)) for lv, h in data["frontier"]],
                watched_draws={k: list(v) for k, v in data.get("watched_draws", {}).items()},
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CannotCheck(f"状态文件 {path} 无法读取 / unreadable state: {exc}") from exc
        if root_of(state.frontier) != state.root:
            raise CannotCheck(f"状态文件 {path} 自相矛盾（根哈希与子树不符）/ inconsistent state")
        return state

    def save(self, path: Path) -> None:
        data = {
            "origin": self.origin,
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
            "checkpoint": self.checkpoint,
            "frontier": [[lv, base64.b64encode(h).decode()] for lv, h in self.frontier],
            "watched_draws": self.watched_draws,
            "checked_at": int(time.time()),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)


def cosignature_time(note: str, vkey: str) -> int | None:
    """The time of a valid cosignature/v1 by `vkey` (type 0x04) on the note, else None."""
    name, key_id_hex, key_b64 = vkey.split("+", 2)
    raw = base64.b64decode(key_b64, validate=True)
    if len(raw) != 33 or raw[0] != 0x04:
        raise ValueError(f"{name}: not a cosignature/v1 key")
    text, _, signatures = note.rpartition("\n\n")
    newest = None
    for line in signatures.splitlines():
        signer, _, blob_b64 = line.removeprefix("\u2014 ").partition(" ")
        blob = base64.b64decode(blob_b64)
        if signer != name or blob[:4].hex() != key_id_hex or len(blob) != 76:
            continue
        when = int.from_bytes(blob[4:12], "big")
        message = f"cosignature/v1\ntime {when}\n{text}\n".encode()
        try:
            Ed25519PublicKey.from_public_bytes(raw[1:]).verify(blob[12:], message)
        except InvalidSignature:
            continue
        newest = max(when, newest or 0)
    return newest


@dataclass(frozen=True)
class Options:
    url: str
    state: Path
    keys: list[str]
    witnesses: list[str] = field(default_factory=list)
    max_age: int = 86_400
    watch: list[str] = field(default_factory=list)


def _mentions(value: Any, uscc: str) -> bool:
    if isinstance(value, str):
        return value == uscc
    if isinstance(value, dict):
        return any(_mentions(k, uscc) or _mentions(v, uscc) for k, v in value.items())
    if isinstance(value, list):
        return any(_mentions(v, uscc) for v in value)
    return False


def _new_entries(options: Options, fetch: Fetch, start: int, end: int) -> Iterator[bytes]:
    """Entries [start, end) from the bundles, each bundle checked against its hash tile."""
    base = options.url.rstrip("/")
    for n in range(start // TILE_WIDTH, -(-end // TILE_WIDTH)):
        width = min(TILE_WIDTH, end - n * TILE_WIDTH)
        suffix = tile_path(n, None if width == TILE_WIDTH else width)
        bundle = split_bundle(fetch(f"{base}/tile/entries/{suffix}"))
        hashes = fetch(f"{base}/tile/0/{suffix}")
        if len(bundle) != width or len(hashes) != 32 * width:
            raise Alarm(
                f"第 {n} 个条目包/哈希瓦片的宽度不是 {width} / tile {n} has the wrong width"
            )
        skip = max(0, start - n * TILE_WIDTH)
        for i in range(skip, width):
            leaf = merkle.leaf_hash(bundle[i])
            if hashes[32 * i : 32 * i + 32] != leaf:
                raise Alarm(
                    f"第 {n * TILE_WIDTH + i} 条的叶哈希与哈希瓦片不符 / entry and tile disagree"
                )
            yield bundle[i]


def check(options: Options, fetch: Fetch, say: Callable[[str], None]) -> int:
    """One monitoring pass; the exit code."""
    state = State.load(options.state)
    base = options.url.rstrip("/")
    note = fetch(f"{base}/checkpoint").decode("utf-8")
    try:
        checkpoint = parse_checkpoint(open_note(note, options.keys))
    except NoteError as exc:
        raise Alarm(f"检查点签名无效 / the checkpoint does not verify: {exc}") from exc
    if state.checkpoint and checkpoint.origin != state.origin:
        raise Alarm(f"日志标识变了：{state.origin} → {checkpoint.origin} / the origin changed")
    _check_fresh(options, note)
    if checkpoint.size < state.size:
        raise Alarm(f"日志回滚：此前已见 {state.size} 条，现在只有 {checkpoint.size} 条 / ROLLBACK")
    frontier = list(state.frontier)
    watched = {u: list(state.watched_draws.get(u, [])) for u in options.watch}
    news = []
    for offset, body in enumerate(_new_entries(options, fetch, state.size, checkpoint.size)):
        push(frontier, merkle.leaf_hash(body))
        index = state.size + offset
        entry = json.loads(body)
        for uscc, draws in watched.items():
            if _mentions(entry, uscc) or entry.get("draw") in draws:
                if entry.get("draw") and entry["draw"] not in draws:
                    draws.append(entry["draw"])
                news.append(
                    f"· {uscc}：第 {index} 条 {entry.get('kind')}，抽查 {entry.get('draw')}，"
                    f"时间 {entry.get('at')} / entry {index} is about {uscc}"
                )
    if root_of(frontier) != checkpoint.root:
        raise Alarm(
            f"大小 {checkpoint.size} 的检查点不是此前所见日志（{state.size} 条）的延续：分叉或改写"
            " / the checkpoint does not extend the log seen before (fork or rewrite)"
        )
    for line in news:
        say(line)
    state = State(checkpoint.origin, checkpoint.size, checkpoint.root, note, frontier, watched)
    state.save(options.state)
    return NEWS if news else OK


def _check_fresh(options: Options, note: str) -> None:
    if not options.witnesses:
        return
    times = [t for key in options.witnesses if (t := cosignature_time(note, key)) is not None]
    if not times:
        raise Alarm("检查点没有任何已知见证人的有效联署 / no witness cosigned the checkpoint")
    age = int(time.time()) - max(times)
    if age > options.max_age:
        raise Alarm(f"最新的见证人联署已是 {age} 秒前（上限 {options.max_age}）/ stale checkpoint")


def run(options: Options, fetch: Fetch, say: Callable[[str], None] = print) -> int:
    """check(), with every failure turned into its exit code and a message."""
    try:
        for key in options.keys:
            parse_verifier_key(key)
        return check(options, fetch, say)
    except Alarm as exc:
        say(f"✗ 告警 / ALARM {options.url}: {exc}")
        return ALARM
    except (CannotCheck, NoteError) as exc:
        say(f"! 无法检查 / cannot check {options.url}: {exc}")
        return CANNOT_CHECK
    except (OSError, ValueError) as exc:  # network, HTTP status, undecodable answers
        say(f"! 无法检查 / cannot check {options.url}: {exc}")
        return CANNOT_CHECK


def http_fetch(url: str) -> bytes:
    """GET `url`; a non-200 answer is an OSError (the run cannot check, exit 2)."""
    import httpx

    try:
        response = httpx.get(url, timeout=30, headers={"Accept-Encoding": "gzip, identity"})
    except httpx.HTTPError as exc:
        raise OSError(str(exc)) from exc
    if response.status_code != 200:
        raise OSError(f"GET {url}: HTTP {response.status_code}")
    return response.content
