"""The verifier's run: read the inputs, build the trust policy, check, and answer an exit code."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from .canonical import jcs, sha256_hex
from .ceremony import check_ceremony
from .checks import Report, check_log, check_result, check_seed, say_cosigned
from .logread import Fetch, check_complete, load, read_log, standing
from .merkle import verify_consistency
from .note import ED25519, Checkpoint, parse_vkey
from .policy import Policy, accept, parse_policy
from .proof import HEADER, Proven, parse_proof, verify_proof

PASSED, FAILED, UNREADABLE, DOES_NOT_STAND = 0, 1, 2, 3


@dataclass(frozen=True)
class Inputs:
    source: str
    keys: list[str]
    policy_file: str | None = None
    log_url: str | None = None
    since_file: str | None = None
    proof_file: str | None = None
    draw_only: bool = False


def trust(inputs: Inputs) -> tuple[Policy, str]:
    """The policy the checkpoints must satisfy: the file's, plus any --key as a log;
    and why a --key is unusable (a failed signature check, not unreadable input)."""
    policy = Policy(quorum="none")
    if inputs.policy_file is not None:
        with open(inputs.policy_file, "rb") as handle:
            policy = parse_policy(handle.read())
    bad = ""
    for key in (k for text in inputs.keys for k in text.split()):
        try:
            policy.logs.append(parse_vkey(key, kind=ED25519))
        except ValueError as exc:
            bad = f"--key {key[:60]}: {exc}"
    return policy, bad


def open_checkpoint(note: str, key: str) -> tuple[str, int, bytes]:
    """Check a checkpoint's signature by the log key; return origin, size, root."""
    policy = Policy(logs=[parse_vkey(key, kind=ED25519)], quorum="none")
    checkpoint = accept(note, policy).checkpoint
    return checkpoint.origin, checkpoint.size, checkpoint.root


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def run(inputs: Inputs, fetch: Fetch) -> int:
    try:
        policy, bad_key = trust(inputs)
        since = _read_text(inputs.since_file) if inputs.since_file else None
        proof_text = _read_text(inputs.proof_file) if inputs.proof_file else None
        remote = inputs.source.startswith(("http://", "https://"))
        if remote and inputs.source.endswith(("/proof", ".tlog-proof")):
            text = fetch(inputs.source).decode("utf-8")
            return _run_proof(inputs, policy, bad_key, text, since, fetch)
        if not remote and (
            inputs.source.endswith(".tlog-proof")
            or _read_text(inputs.source).startswith(HEADER + "\n")
        ):
            text = _read_text(inputs.source)
            return _run_proof(inputs, policy, bad_key, text, since, fetch)
        bundle = load(inputs.source)
        frame_hash = sha256_hex(jcs(bundle["frame"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"✗ 无法读取输入 / cannot read the input (bundle, proof, key or policy): {exc}")
        return UNREADABLE
    report = Report()
    stands = True
    report.check(
        bundle.get("frame_hash", frame_hash) == frame_hash,
        "框架哈希一致",
        "the frame hash matches",
        frame_hash,
    )
    check_seed(report, bundle.get("seed") or "", frame_hash)
    check_result(report, bundle, frame_hash)
    if not inputs.draw_only and bad_key:
        report.check(False, "检查点签名有效", "the checkpoint signature verifies", bad_key)
    elif not inputs.draw_only:
        if not policy.logs:
            policy.logs.append(parse_vkey(bundle["log"]["verifier_key"], kind=ED25519))
            print(
                "! 未独立指定日志公钥，使用验证包自带的公钥 / the log key was not pinned independently"
            )
        stands = check_story(report, bundle, policy, frame_hash, inputs.log_url, fetch)
        signed = _bundle_checkpoint(bundle, policy)
        if since is not None and signed is not None:
            check_since(report, since, signed, policy, inputs.log_url, fetch)
        if proof_text is not None:
            proven = _check_proof(report, proof_text, policy)
            if proven is not None:
                _proof_matches_bundle(report, proven, bundle)
    return _verdict(report, stands)


def _verdict(report: Report, stands: bool) -> int:
    if not report.ok:
        print("未通过 / FAILED")
        return FAILED
    if not stands:
        print("各项检查通过，但该抽查不成立 / every check holds, but the draw does not stand")
        return DOES_NOT_STAND
    print("通过 / PASSED")
    return PASSED


def _bundle_checkpoint(bundle: dict[str, Any], policy: Policy) -> Checkpoint | None:
    try:
        return accept(bundle["log"]["checkpoint"], policy).checkpoint
    except (ValueError, KeyError, TypeError):
        return None  # reported by check_log


def check_story(
    report: Report,
    bundle: dict[str, Any],
    policy: Policy,
    frame_hash: str,
    log_url: str | None,
    fetch: Fetch,
) -> bool:
    """The log's part: entries, ceremony, completeness and standing; False if the draw
    does not stand."""
    signed = check_log(report, bundle, policy, frame_hash)
    entries = [item["entry"] for item in bundle["log"]["entries"]]
    replaced_by = bundle.get("replaced_by")
    if log_url is not None and signed is not None:
        try:
            log_entries = read_log(report, fetch, log_url, policy, *signed)
        except Exception as exc:  # unreadable or unsigned: a failed check, never a crash
            report.check(
                False, "读取日志", "the log can be read and its checkpoint verifies", str(exc)
            )
            log_entries = None
        if log_entries is not None:
            entries = [item["entry"] for item in check_complete(report, bundle, log_entries)]
            replaced_by = next(
                (
                    item["entry"]["draw"]
                    for item in log_entries
                    if item["entry"].get("kind") == "commitment"
                    and item["entry"].get("replaces") == bundle["draw"]
                ),
                None,
            )
    elif replaced_by:
        print("· 替代关系取自验证包；用 --log 可从日志核对 / the replacement is as the bundle says")
    if bundle.get("seed"):
        check_ceremony(report, bundle["seed"], entries)
    return standing(report, bundle, entries, replaced_by)


def check_since(
    report: Report,
    since_note: str,
    now: Checkpoint,
    policy: Policy,
    log_url: str | None,
    fetch: Fetch,
) -> None:
    """The checkpoint seen earlier and the one verified now are of one append-only log."""
    try:
        before = accept(since_note, policy.log_only()).checkpoint
    except ValueError as exc:
        report.check(False, "此前的检查点签名有效", "the earlier checkpoint verifies", str(exc))
        return
    zh, en = "与此前见过的检查点一致", "consistent with the checkpoint seen earlier"
    why = f"{before.size} → {now.size}"
    if before.origin != now.origin:
        report.check(False, zh, en, f"origin {before.origin} ≠ {now.origin}")
        return
    first, second = sorted((before, now), key=lambda c: c.size)
    if first.size == second.size or first.size == 0:
        report.check(first.size == 0 or first.root == second.root, zh, en, why + ": roots differ")
        return
    if log_url is None:
        report.check(False, zh, en, why + ": the consistency proof needs --log")
        return
    try:
        url = f"{log_url.rstrip('/')}/api/v1/log/proof/consistency?first={first.size}&second={second.size}"
        proof = [base64.b64decode(p, validate=True) for p in json.loads(fetch(url))["proof"]]
        holds = verify_consistency(first.size, second.size, proof, first.root, second.root)
    except Exception as exc:  # unreadable: a failed check, never a crash
        holds, why = False, f"{why}: {exc}"
    report.check(holds, zh + f"（{why}）", en + f" ({why})", "no valid consistency proof")


def _check_proof(report: Report, text: str, policy: Policy) -> Proven | None:
    try:
        proven = verify_proof(parse_proof(text), policy)
    except ValueError as exc:
        report.check(False, "tlog-proof 证明有效", "the tlog-proof verifies", str(exc))
        return None
    say_cosigned(report, policy, proven.accepted)
    report.check(
        True,
        f"第 {proven.index} 条日志条目在检查点（大小 {proven.accepted.checkpoint.size}）中",
        f"log entry {proven.index} is in the signed checkpoint of size"
        f" {proven.accepted.checkpoint.size}",
    )
    return proven


def _proof_matches_bundle(report: Report, proven: Proven, bundle: dict[str, Any]) -> None:
    entry = proven.entry
    result = bundle.get("result")
    report.check(
        entry.get("kind") == "result"
        and entry.get("draw") == bundle.get("draw")
        and result is not None
        and entry.get("result_hash") == sha256_hex(jcs(result)),
        "证明中的结果条目即本验证包的结果",
        "the proof's result entry is this bundle's result",
    )


def _run_proof(
    inputs: Inputs, policy: Policy, bad_key: str, text: str, since: str | None, fetch: Fetch
) -> int:
    """A .tlog-proof on its own: its checkpoint, its entry, and what the entry says."""
    if not policy.logs and not bad_key:
        raise ValueError("a .tlog-proof needs --key or a --policy naming the log")
    report = Report()
    if bad_key:
        report.check(False, "检查点签名有效", "the checkpoint signature verifies", bad_key)
        return _verdict(report, True)
    proven = _check_proof(report, text, policy)
    if proven is not None:
        entry = proven.entry
        print(
            f"· 条目 / entry {proven.index}: kind={entry.get('kind')} draw={entry.get('draw')}"
            f" result_hash={entry.get('result_hash')}"
        )
        if since is not None:
            check_since(report, since, proven.accepted.checkpoint, policy, inputs.log_url, fetch)
    return _verdict(report, True)
