"""The witness's key file (0600) and its configuration: which logs it witnesses."""

from __future__ import annotations

import os
import stat
from collections import defaultdict
from pathlib import Path

from app.ledger.checkpoint import Verifier
from app.ledger.cosignature import CosignerKey, generate_cosigner, parse_cosigner_key
from app.ledger.policy import PolicyError, parse_policy

KEY_FILE = "witness.key"
VKEY_FILE = "witness.vkey"


class WitnessConfigError(RuntimeError):
    """The key file or the logs file cannot be used (the message says why, in Chinese)."""


def create_key(directory: Path, name: str) -> str:
    """Make the witness's key in `directory` (refusing to replace one); return its vkey."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / KEY_FILE
    secret, vkey = generate_cosigner(name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise WitnessConfigError(f"{path} 已存在：见证人的密钥不会被覆盖") from exc
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    (directory / VKEY_FILE).write_text(vkey + "\n")
    return vkey


def load_key(directory: Path) -> CosignerKey:
    """The witness's key; it must exist and be private to the service account."""
    path = directory / KEY_FILE
    if not path.exists():
        raise WitnessConfigError(
            f"找不到见证人密钥 {path}：请先运行 shuangsui witness init --dir {directory} 名称"
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise WitnessConfigError(f"{path} 的权限为 {mode:o}，私钥文件只能由服务账户读取（0600）")
    try:
        return parse_cosigner_key(path.read_text().strip())
    except ValueError as exc:
        raise WitnessConfigError(f"{path} 不是有效的见证人密钥：{exc}") from exc


def load_logs(path: Path) -> dict[str, list[Verifier]]:
    """The logs to witness, by origin, from `log <vkey>` lines (C2SP tlog-policy syntax)."""
    try:
        policy = parse_policy(path.read_bytes(), require_quorum=False)
    except OSError as exc:
        raise WitnessConfigError(f"无法读取日志列表 {path}：{exc}") from exc
    except PolicyError as exc:
        raise WitnessConfigError(f"日志列表 {path} 有误：{exc}") from exc
    if not policy.logs:
        raise WitnessConfigError(f"日志列表 {path} 中没有 log 行：见证人不知道要见证哪个日志")
    logs: dict[str, list[Verifier]] = defaultdict(list)
    for entry in policy.logs:
        # The key name is the log's origin (tlog-checkpoint).
        logs[entry.verifier.name].append(entry.verifier)
    return dict(logs)
