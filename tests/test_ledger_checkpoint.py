"""Signed notes and checkpoints: byte-compatible with Go's sumdb/note."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from app.ledger.checkpoint import (
    NoteError,
    format_checkpoint,
    generate_signer,
    open_note,
    parse_checkpoint,
    sign_note,
)
from app.ledger.keys import KeyFileError, load_signer

# The example of golang.org/x/mod/sumdb/note (its documentation and note_test.go).
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT
    + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_a_note_signed_by_go_opens_here() -> None:
    assert open_note(GO_NOTE, [GO_VERIFIER]) == GO_TEXT


def test_our_signature_is_byte_identical_to_go() -> None:
    assert sign_note(GO_TEXT, GO_SIGNER) == GO_NOTE


@pytest.mark.parametrize(
    "tamper",
    [
        lambda n: n.replace("cryptography", "cryptographY"),
        lambda n: n.replace("x08go", "x08gp"),
        lambda n: n.replace("PeterNeumann x08", "PeterNeumanm x08"),
        lambda n: n[:-1],
        lambda n: n.replace("\n\n", "\n"),
    ],
)
def test_tampered_notes_are_refused(tamper: object) -> None:
    assert callable(tamper)
    with pytest.raises(NoteError):
        open_note(tamper(GO_NOTE), [GO_VERIFIER])


def test_unknown_key_is_refused() -> None:
    _, other = generate_signer("PeterNeumann")
    with pytest.raises(NoteError):
        open_note(GO_NOTE, [other])


def test_checkpoint_round_trip() -> None:
    signer, verifier = generate_signer("hengyang.yjj/draws")
    root = bytes(range(32))
    note = sign_note(format_checkpoint("hengyang.yjj/draws", 42, root), signer)
    assert note.startswith(
        "hengyang.yjj/draws\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n— "
    )
    body = parse_checkpoint(open_note(note, [verifier]))
    assert (body.origin, body.size, body.root) == ("hengyang.yjj/draws", 42, root)
    with pytest.raises(NoteError):
        open_note(note.replace("\n42\n", "\n43\n"), [verifier])


def test_key_file_is_private_and_stable(tmp_path: Path) -> None:
    first = load_signer(tmp_path, "hengyang.yjj/draws", create=True)
    key_file = tmp_path / "log-signer.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.verifier_key.startswith("hengyang.yjj/draws+")
    assert (tmp_path / "log-verifier.key").read_text().strip() == first.verifier_key
    again = load_signer(tmp_path, "hengyang.yjj/draws", create=True)
    assert again.verifier_key == first.verifier_key
    assert "PRIVATE" not in repr(again)
    with pytest.raises(KeyFileError):
        load_signer(tmp_path, "another.log/origin", create=True)
    os.chmod(key_file, 0o644)
    with pytest.raises(KeyFileError):
        load_signer(tmp_path, "hengyang.yjj/draws", create=True)


def _signer_in_child(folder: str) -> str:
    return load_signer(Path(folder), "hengyang.yjj/draws", create=True).verifier_key


def test_workers_starting_together_make_one_key(tmp_path: Path) -> None:
    # Several uvicorn workers may start on an empty data directory at once.
    with multiprocessing.get_context("fork").Pool(4) as pool:
        for attempt in range(8):
            folder = tmp_path / str(attempt)
            folder.mkdir()
            keys = pool.map(_signer_in_child, [str(folder)] * 8)
            assert len(set(keys)) == 1
            assert sorted(p.name for p in folder.iterdir()) == [
                "log-signer.key",
                "log-verifier.key",
            ]
            assert (folder / "log-verifier.key").read_text().strip() == keys[0]
