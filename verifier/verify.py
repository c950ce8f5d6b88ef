#!/usr/bin/env python3
"""Verify a 双随机、一公开 draw from its published bundle — independently of the service.

    python verify.py BUNDLE.json|URL [--key VERIFIER_KEY] [--policy FILE] [--log BASE_URL]
                     [--since CHECKPOINT_FILE] [--proof FILE.tlog-proof] [--draw-only]
    python verify.py FILE.tlog-proof (--key VERIFIER_KEY | --policy FILE) [--since ...]

Everything here is written from the public specifications (draw-algorithm.md,
version draw/1, transparency-log.md, and the C2SP signed-note, tlog-checkpoint,
tlog-cosignature, tlog-policy and tlog-proof texts) using only Python's standard
library; Ed25519 signatures need the `cryptography` package, and a drand
beacon's BLS signature is checked when `drand_verify` is installed. The code is
this file and the package `shuangsui_verify/` beside it; it imports nothing of
the service. Each check prints one line, in Chinese and English. Exit code: 0
when every check holds and the draw stands; 1 when a check fails; 2 when the
input (bundle, proof, key, policy or checkpoint file) cannot be read; 3 when
every check holds but the draw was annulled or failed (the reason is printed).

With --policy, a checkpoint counts only if a log of the tlog-policy file signed
it and the policy's quorum of witnesses cosigned it (cosignature/v1). With
--log, the whole log up to the bundle's checkpoint is read from the service (or
a copy of it), its root recomputed, and every entry about this draw must be in
the bundle: a bundle cannot hide an annulment or a second seed. With --since, a
checkpoint seen earlier must be consistent with the one verified now (the
consistency proof is read from --log). A .tlog-proof file (c2sp.org/tlog-proof@v1,
from /api/v1/draws/ID/proof) proves that the draw's result entry is in the log.
"""

from __future__ import annotations

import argparse
import sys
import urllib.request
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:  # loaded from its file, not run
    sys.path.insert(0, str(Path(__file__).resolve().parent))

# The names below are also this module's interface for tests and `shuangsui verify`.
from shuangsui_verify.canonical import jcs, sha256_hex  # noqa: E402
from shuangsui_verify.ceremony import check_ceremony  # noqa: E402
from shuangsui_verify.checks import Report, check_result_entry  # noqa: E402
from shuangsui_verify.cli import Inputs, open_checkpoint, run  # noqa: E402
from shuangsui_verify.draw import Refused, draw  # noqa: E402
from shuangsui_verify.merkle import verify_consistency, verify_inclusion  # noqa: E402

__all__ = [
    "Refused",
    "Report",
    "check_ceremony",
    "check_result_entry",
    "draw",
    "fetch",
    "jcs",
    "main",
    "open_checkpoint",
    "sha256_hex",
    "verify_consistency",
    "verify_inclusion",
]


def fetch(url: str) -> bytes:
    """GET a document (replaceable, for a copy of the log kept elsewhere)."""
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - an auditor's URL
        data: bytes = response.read()
        return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="独立验证一次“双随机”抽查 / verify a draw independently"
    )
    parser.add_argument(
        "bundle",
        help="验证包文件或网址，或 .tlog-proof 文件 / bundle file or URL, or a .tlog-proof",
    )
    parser.add_argument(
        "--key",
        action="append",
        help="日志公钥（应独立取得；可重复）/ the log's verifier key, obtained independently"
        " (repeatable, e.g. during a key rotation)",
    )
    parser.add_argument(
        "--policy",
        metavar="FILE",
        help="C2SP tlog-policy 信任策略：日志公钥、见证人公钥及法定数"
        " / a tlog-policy file: log keys, witness keys and the quorum",
    )
    parser.add_argument(
        "--log",
        metavar="BASE_URL",
        help="服务网址（应独立取得），读取整个日志核对验证包是否完整"
        " / the service's base URL, obtained independently: read the log and check"
        " that the bundle leaves nothing out",
    )
    parser.add_argument(
        "--since",
        metavar="CHECKPOINT_FILE",
        help="此前见过的检查点：须与本次的检查点一致（需 --log）"
        " / a checkpoint seen earlier, which the one verified now must extend (needs --log)",
    )
    parser.add_argument(
        "--proof",
        metavar="FILE",
        help="该抽查结果条目的 .tlog-proof 证明 / the .tlog-proof of the draw's result entry",
    )
    parser.add_argument(
        "--draw-only",
        action="store_true",
        help="只核对 frame、seed、result / only frame, seed, result",
    )
    args = parser.parse_args(argv)
    inputs = Inputs(
        source=args.bundle,
        keys=args.key or [],
        policy_file=args.policy,
        log_url=args.log,
        since_file=args.since,
        proof_file=args.proof,
        draw_only=args.draw_only,
    )
    return run(inputs, lambda url: fetch(url))


if __name__ == "__main__":
    sys.exit(main())
