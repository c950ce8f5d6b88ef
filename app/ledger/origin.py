"""The log's origin: the name in every checkpoint, one per installation.

C2SP tlog-tiles: the origin SHOULD be the schema-less URL of the log's prefix
with no trailing slash (the service serves its tiles under /tlog, so for
example `yjj.hengyang.gov.cn/shuangsui/tlog`). Two installations that shared
an origin would sign checkpoints that witnesses and monitors cannot tell
apart, so the name every installation once shipped with is refused, and
production (`shuangsui serve` without --demo) must name its own; the demo
names itself after the address it listens on.

>>> demo_origin("127.0.0.1", 8000), demo_origin("::1", 8080)
('127.0.0.1:8000/tlog', '[::1]:8080/tlog')
"""

from __future__ import annotations

from pathlib import Path

from app.ledger.checkpoint import NoteError, parse_verifier_key
from app.ledger.keys import VERIFIER_FILE

# The origin every installation shared before origins were per installation.
SHARED_DEFAULT = "hengyang.yjj/draws"
# What a service built without an origin (tests, an embedded app) calls its log.
LOCAL_ORIGIN = "localhost/tlog"
HOW = (
    "请将 SHUANGSUI_LOG_ORIGIN 设为本机日志 /tlog 前缀不含协议的网址，"
    "如 yjj.hengyang.gov.cn/shuangsui/tlog（每个部署各不相同）"
)


class OriginError(ValueError):
    """An origin this installation may not use (the message is Chinese and says what to do)."""


def check_origin(origin: str) -> str:
    """The origin if it is a usable one: a schema-less URL prefix, not the shared default."""
    if origin == SHARED_DEFAULT:
        raise OriginError(
            f"日志名称“{SHARED_DEFAULT}”是旧版本各部署共用的默认值，不能再用于签名检查点；{HOW}"
        )
    printable = origin.isascii() and all(33 <= ord(c) < 127 for c in origin)
    if not origin or not printable or "+" in origin:
        raise OriginError(f"日志名称“{origin}”无效：须为不含空白和“+”的 ASCII 网址；{HOW}")
    if "://" in origin or origin.endswith("/"):
        raise OriginError(f"日志名称“{origin}”须不含协议（https://）且不以“/”结尾；{HOW}")
    return origin


def demo_origin(host: str, port: int) -> str:
    """The demo's origin: the address it serves /tlog on."""
    name = f"[{host}]" if ":" in host else host
    return f"{name}:{port}/tlog"


def key_origin(data_dir: Path) -> str | None:
    """The name of the log whose key is in `data_dir`, if there is one."""
    path = data_dir / VERIFIER_FILE
    try:
        return parse_verifier_key(path.read_text().strip()).name
    except (OSError, NoteError, ValueError):
        return None


def resolve_origin(configured: str | None, data_dir: Path) -> str:
    """The configured origin, else the one the data directory's key was made for, else local."""
    return check_origin(configured or key_origin(data_dir) or LOCAL_ORIGIN)


def production_origin(configured: str | None) -> str:
    """Production names its log itself: unset or the shared default is refused."""
    if not configured:
        raise OriginError(f"生产部署须自行设定日志名称（未设置 SHUANGSUI_LOG_ORIGIN）；{HOW}")
    return check_origin(configured)
