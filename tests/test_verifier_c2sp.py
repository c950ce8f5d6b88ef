"""The verifier's C2SP parsers, held to the letter of the texts: signed notes and
checkpoints parsed strictly, cosignature/v1, tlog-policy files and their quorums,
tlog-proof files; and the package stays small and free of the service."""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib
from pathlib import Path
from types import ModuleType

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.auditor import VERIFIER, load_verifier

# signed-note's own example: this key verifies this note.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n\u2014 example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def _module(name: str) -> ModuleType:
    load_verifier()
    return importlib.import_module(f"shuangsui_verify.{name}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Key:
    def __init__(self, name: str, kind: int) -> None:
        self.name, self.kind = name, kind
        self.private = Ed25519PrivateKey.generate()
        public = self.private.public_key().public_bytes_raw()
        self.key_id = hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()[:4]
        self.vkey = f"{name}+{self.key_id.hex()}+" + _b64(bytes([kind]) + public)

    def sign(self, text: str) -> str:
        blob = self.key_id + self.private.sign(text.encode())
        return f"\u2014 {self.name} {_b64(blob)}\n"

    def cosign(self, text: str, when: int) -> str:
        message = f"cosignature/v1\ntime {when}\n{text}".encode()
        blob = self.key_id + when.to_bytes(8, "big") + self.private.sign(message)
        return f"\u2014 {self.name} {_b64(blob)}\n"


ROOT_B64 = _b64(hashlib.sha256(b"root").digest())
TEXT = f"log.example/a\n42\n{ROOT_B64}\n"


def test_the_spec_example_verifies_and_its_variants_do_not() -> None:
    note = _module("note")
    key = note.parse_vkey(SPEC_VKEY)
    parsed = note.parse_note(SPEC_NOTE)
    assert note.verify_signed_by(parsed, [key]) == [key]
    altered = note.parse_note(SPEC_NOTE.replace("example message", "example massage"))
    with pytest.raises(note.NoteError, match="does not verify"):
        note.verify_signed_by(altered, [key])
    # Another key with the same name and id is not "known": ignored, so nothing verifies.
    assert note.verify_signed_by(parsed, []) == []


@pytest.mark.parametrize(
    "broken",
    [
        SPEC_NOTE.replace("message.", "message.\x07"),  # a control character
        SPEC_NOTE.replace("message.", "message.\r"),
        SPEC_NOTE.replace("\n\n", "\n"),  # no signature block
        SPEC_NOTE[:-1],  # the last signature line unterminated
        SPEC_NOTE.replace("\u2014 ", "- "),
        SPEC_NOTE.replace("example.com/foo U", "example.com/foo  U"),
        SPEC_NOTE.replace("aQM=", "aQN="),  # non-canonical base64 (padding bits)
        SPEC_NOTE.replace("aQM=", "aQM"),  # unpadded
        SPEC_NOTE.replace("Uw2Q", "Uw2Q\u00e9"),
        SPEC_NOTE.replace("example.com/foo", "example.com/f+o"),
        "\n\n" + SPEC_NOTE.split("\n\n")[1],  # no text
        SPEC_NOTE + "\u2014 x.example AAAA\n",  # a signature shorter than its key id + 1
        SPEC_NOTE + "".join(f"\u2014 k{i} {_b64(bytes(68))}\n" for i in range(64)),
    ],
)
def test_malformed_notes_are_refused(broken: str) -> None:
    note = _module("note")
    with pytest.raises(note.NoteError):
        note.parse_note(broken)


def test_sixteen_signatures_are_accepted() -> None:
    note = _module("note")
    many = SPEC_NOTE + "".join(f"\u2014 k{i} {_b64(bytes(68))}\n" for i in range(15))
    assert len(note.parse_note(many).signatures) == 16


@pytest.mark.parametrize(
    "text",
    [
        f"log.example/a\n042\n{ROOT_B64}\n",
        f"log.example/a\n\u0664\u0662\n{ROOT_B64}\n",  # Arabic-Indic digits
        f"log.example/a\n+42\n{ROOT_B64}\n",
        f"log.example/a\n{2**63}\n{ROOT_B64}\n",
        f"log.example/a\n42\n{_b64(b'short')}\n",
        f"log.example/a\n42\n{ROOT_B64}",
        f"log.example/a\n42\n{ROOT_B64}\n\nextension\n",
        f"\n42\n{ROOT_B64}\n",
        "log.example/a\n42\n",
    ],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    note = _module("note")
    with pytest.raises(note.NoteError):
        note.parse_checkpoint(text)


def test_checkpoints_with_extension_lines_and_an_empty_tree_parse() -> None:
    note = _module("note")
    parsed = note.parse_checkpoint(f"log.example/a\n0\n{ROOT_B64}\next one\next two\n")
    assert parsed.size == 0 and parsed.extensions == ("ext one", "ext two")


def test_a_known_keys_bad_signature_rejects_the_note_even_beside_a_good_one() -> None:
    note = _module("note")
    log, rotated = Key("log.example/a", 1), Key("log.example/a", 1)
    signed = TEXT + "\n" + log.sign(TEXT) + rotated.sign("another text\n")
    keys = [note.parse_vkey(log.vkey), note.parse_vkey(rotated.vkey)]
    with pytest.raises(note.NoteError, match="does not verify"):
        note.verify_signed_by(note.parse_note(signed), keys)
    assert note.verify_signed_by(note.parse_note(signed), keys[:1]) == keys[:1]


def test_cosignatures_verify_with_their_time() -> None:
    note = _module("note")
    witness = Key("witness.example", 4)
    key = note.parse_vkey(witness.vkey, kind=note.COSIGNATURE_V1)
    cosigned = note.parse_note(TEXT + "\n" + witness.cosign(TEXT, 1679315147))
    assert note.cosignature_time(cosigned, key) == 1679315147
    blob = base64.b64decode(witness.cosign(TEXT, 1679315147).split()[-1])
    later = blob[:4] + (1679315148).to_bytes(8, "big") + blob[12:]
    lying = TEXT + f"\n\u2014 witness.example {_b64(later)}\n"
    with pytest.raises(note.NoteError):
        note.cosignature_time(note.parse_note(lying), key)
    too_late = Key("witness.example", 4)
    blob = too_late.key_id + (2**63).to_bytes(8, "big") + bytes(64)
    huge = note.parse_note(TEXT + f"\n\u2014 witness.example {_b64(blob)}\n")
    with pytest.raises(note.NoteError, match="invalid time"):
        note.cosignature_time(huge, note.parse_vkey(too_late.vkey))
    with pytest.raises(note.NoteError, match="type"):
        note.parse_vkey(witness.vkey, kind=note.ED25519)


def _policy_text(keys: dict[str, Key]) -> str:
    lines = [f"log {keys['log'].vkey} https://log.example/"]
    lines += [f"witness {n} {keys[n].vkey}" for n in ("X1", "X2", "X3", "Y1", "Y2", "Y3")]
    lines += [
        "group X-witnesses 2 X1 X2 X3",
        "  group\tY-witnesses any Y1 Y2 Y3  ",
        "# the quorum below",
        "group X-and-Y all X-witnesses Y-witnesses",
        "quorum X-and-Y",
    ]
    return "\n".join(lines) + "\n"


def test_the_spec_example_policy_and_its_quorum() -> None:
    policy = _module("policy")
    keys = {"log": Key("log.example/a", 1)} | {
        n: Key(f"{n.lower()}.example", 4) for n in ("X1", "X2", "X3", "Y1", "Y2", "Y3")
    }
    parsed = policy.parse_policy(_policy_text(keys).encode())
    assert parsed.quorum == "X-and-Y" and len(parsed.witnesses) == 6
    assert parsed.satisfied({"X1", "X3", "Y2"})
    assert not parsed.satisfied({"X1", "Y1", "Y2", "Y3"})
    assert not parsed.satisfied({"X1", "X2", "X3"})

    def note_by(*names: str) -> str:
        signed = TEXT + "\n" + keys["log"].sign(TEXT)
        return signed + "".join(keys[n].cosign(TEXT, 1700000000) for n in names)

    accepted = policy.accept(note_by("X2", "X3", "Y1"), parsed)
    assert set(accepted.cosigned) == {"X2", "X3", "Y1"}
    with pytest.raises(ValueError, match="quorum"):
        policy.accept(note_by("X2", "Y1"), parsed)
    other_origin = TEXT.replace("log.example/a", "log.example/b")
    with pytest.raises(ValueError, match="no log key"):
        policy.accept(other_origin + "\n" + keys["log"].sign(other_origin), parsed)


@pytest.mark.parametrize(
    "lines",
    [
        ["quorum none", "quorum none"],
        ["witness A {w1}"],  # no quorum
        ["quorum A"],  # defined after
        ["witness A {w1}", "witness A {w2}", "quorum A"],
        ["witness A {w1}", "witness B {w1}", "quorum A"],  # the same key twice
        ["witness A {w1}", "group G 2 A", "quorum G"],
        ["witness A {w1}", "group G 0 A", "quorum G"],
        ["witness A {w1}", "group G 01 A", "quorum G"],
        ["witness A {w1}", "group G any A A", "quorum G"],
        ["witness A {w1}", "group G any none", "quorum G"],
        ["witness A {w1}", "group G any B", "quorum G"],
        ["witness A {w1}", "group G any", "quorum G"],
        ["witness none {w1}", "quorum none"],
        ["witness A {log}", "quorum A"],  # a log key where a cosigner key belongs
        ["log {w1}", "quorum none"],
        ["log {log}", "log {log}", "quorum none"],
        ["logs {log}", "quorum none"],
        ["witness A {w1} http://a/ extra", "quorum A"],
        ["quorum none\x0b"],
        ["quorum none\r"],
    ],
)
def test_malformed_policies_are_refused(lines: list[str]) -> None:
    policy = _module("policy")
    keys = {"log": Key("log.example/a", 1).vkey, "w1": Key("w1", 4).vkey, "w2": Key("w2", 4).vkey}
    text = "\n".join(line.format(**keys) for line in lines) + "\n"
    with pytest.raises(policy.PolicyError):
        policy.parse_policy(text.encode())


def test_policy_names_are_opaque_octets() -> None:
    policy = _module("policy")
    w = Key("w1", 4)
    text = f"# 见证人\nwitness K {w.vkey}\nwitness \u212a {Key('w2', 4).vkey}\nquorum \u212a\n"
    parsed = policy.parse_policy(text.encode())
    assert parsed.satisfied({"\u212a"}) and not parsed.satisfied({"K"})


def test_tlog_proofs_are_parsed_strictly() -> None:
    proof = _module("proof")
    h = _b64(bytes(32))
    good = f"c2sp.org/tlog-proof@v1\nextra {_b64(b'{}')}\nindex 3\n{h}\n{h}\n\n{TEXT}\n"
    parsed = proof.parse_proof(good)
    assert parsed.index == 3 and len(parsed.hashes) == 2 and parsed.extra == b"{}"
    assert proof.parse_proof(f"c2sp.org/tlog-proof@v1\nindex 0\n\n{TEXT}").hashes == ()
    for broken in [
        good.replace("@v1", "@v2"),
        good.replace("index 3", "index 03"),
        good.replace("index 3", "index -3"),
        good.replace("index 3\n", ""),
        good.replace(f"{h}\n{h}", f"{h}\n{_b64(bytes(31))}"),
        good.replace(f"{h}\n{h}", f"{h}\n{h[:-1]}"),
        good.replace("extra ", "extra  "),
        good.replace("\n\n", "\n"),
    ]:
        with pytest.raises(ValueError):
            proof.parse_proof(broken)


def test_the_package_is_small_and_imports_only_what_it_documents() -> None:
    allowed = {
        "argparse", "base64", "binascii", "collections", "dataclasses", "datetime", "fractions",
        "hashlib", "json", "pathlib", "sys", "typing", "urllib", "__future__",
        "cryptography", "drand_verify", "shuangsui_verify",
    }  # fmt: skip
    files = [VERIFIER, *(VERIFIER.parent / "shuangsui_verify").glob("*.py")]
    assert len(files) >= 8
    for path in files:
        source = Path(path).read_text(encoding="utf-8")
        assert len(source.splitlines()) < 400, path
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {str(node.module).split(".")[0]}
            else:
                continue
            assert roots <= allowed, (path, roots)
