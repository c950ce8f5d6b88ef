"""cosignature/v1 and tlog-policy, against the C2SP texts: the examples they give,
messages built here from the spec's words, and the files the spec forbids."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.ledger.checkpoint import generate_signer, verifier_key_string
from app.ledger.cosignature import (
    CosignatureError,
    cosign,
    generate_cosigner,
    parse_cosigner_key,
    parse_cosigner_vkey,
    parse_line,
    verify_line,
)
from app.ledger.policy import PolicyError, parse_policy

# The example of C2SP tlog-cosignature.
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)
SPEC_LINE = (
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlr"
    "DJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)


def _vkey(name: str, public: bytes) -> str:
    key_id = hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
    encoded = base64.b64encode(b"\x04" + public).decode()
    return f"{name}+{key_id.hex()}+{encoded}"


def test_the_spec_example_parses_to_its_timestamp() -> None:
    line = parse_line(SPEC_LINE)
    assert line.name == "witness.example.com/w1"
    assert len(line.payload) == 8 + 64
    # The spec's example message says "time 1679315147".
    assert struct.unpack(">Q", line.payload[:8])[0] == 1679315147


def test_a_cosignature_built_from_the_spec_words_verifies() -> None:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes_raw()
    name = "witness.example/w1"
    message = b"cosignature/v1\ntime 1679315147\n" + SPEC_CHECKPOINT.encode()
    key_id = hashlib.sha256(name.encode() + b"\n" + b"\x04" + public).digest()[:4]
    blob = key_id + (1679315147).to_bytes(8, "big") + private.sign(message)
    line = f"\u2014 {name} {base64.b64encode(blob).decode()}\n"
    cosigner = parse_cosigner_vkey(_vkey(name, public))
    assert verify_line(cosigner, SPEC_CHECKPOINT, line) == 1679315147
    # And ours, checked the same way by hand.
    secret = "PRIVATE+KEY+" + name + "+" + key_id.hex() + "+"
    secret += base64.b64encode(b"\x04" + private.private_bytes_raw()).decode()
    ours = parse_line(cosign(parse_cosigner_key(secret), SPEC_CHECKPOINT, 1700000000))
    assert ours.key_id == key_id
    assert ours.payload[:8] == (1700000000).to_bytes(8, "big")
    private.public_key().verify(
        ours.payload[8:], b"cosignature/v1\ntime 1700000000\n" + SPEC_CHECKPOINT.encode()
    )


def test_cosignatures_that_must_fail() -> None:
    secret, vkey = generate_cosigner("witness.example/w1")
    cosigner = parse_cosigner_vkey(vkey)
    line = cosign(secret, SPEC_CHECKPOINT, 1679315147)
    other_text = SPEC_CHECKPOINT.replace("20852163", "20852164")
    with pytest.raises(CosignatureError):
        verify_line(cosigner, other_text, line)
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[11] ^= 1  # another timestamp than the one signed
    forged = f"\u2014 witness.example/w1 {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(CosignatureError):
        verify_line(cosigner, SPEC_CHECKPOINT, forged)
    _, stranger = generate_cosigner("witness.example/w1")
    with pytest.raises(CosignatureError, match="not a signature by this cosigner"):
        verify_line(parse_cosigner_vkey(stranger), SPEC_CHECKPOINT, line)
    with pytest.raises(CosignatureError):
        cosign(secret, SPEC_CHECKPOINT, 0)  # "the timestamp MUST NOT be zero"
    # A log key (type 0x01) is not a cosigner key (type 0x04).
    _, log_vkey = generate_signer("example.com/log")
    with pytest.raises(CosignatureError):
        parse_cosigner_vkey(log_vkey)
    for bad in ("\u2014 a b c\n", "- w AAAA\n", "\u2014 w !!!!\n", "\u2014 w AAAAAA==\n"):
        with pytest.raises(CosignatureError):
            parse_line(bad)


def _w() -> str:
    return generate_cosigner("w.example/x")[1]


def test_the_spec_example_policy_with_two_levels_of_groups() -> None:
    keys = {
        n: generate_cosigner(f"{n.lower()}.example/w")[1]
        for n in ("X1", "X2", "X3", "Y1", "Y2", "Y3")
    }
    _, log_vkey = generate_signer("example.com/log")
    text = f"log {log_vkey}\n\n"
    text += "".join(f"witness {n} {keys[n]}\n" for n in ("X1", "X2", "X3"))
    text += "group X-witnesses 2 X1 X2 X3\n\n"
    text += "".join(f"\twitness {n}   {keys[n]} https://{n}.example/\n" for n in ("Y1", "Y2", "Y3"))
    text += "group Y-witnesses any Y1 Y2 Y3\n# a comment\n   # another\n"
    text += "group X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n"
    policy = parse_policy(text.encode())
    assert [w.name for w in policy.witnesses] == ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    assert policy.witness("Y2").url == "https://Y2.example/"  # type: ignore[union-attr]
    assert policy.satisfied({"X1", "X3", "Y2"})
    assert not policy.satisfied({"X1", "Y2"})
    assert not policy.satisfied({"X1", "X2", "X3"})
    assert parse_policy(b"witness A " + _w().encode() + b"\nquorum A\n").satisfied({"A"})
    assert not parse_policy(b"witness A " + _w().encode() + b"\nquorum A\n").satisfied(set())


def test_names_are_opaque_octets() -> None:
    kelvin = "\u212a"
    policy = parse_policy(f"witness {kelvin} {_w()}\nquorum {kelvin}\n".encode())
    assert not policy.satisfied({"K"})
    with pytest.raises(PolicyError):
        parse_policy(f"witness {kelvin} {_w()}\nquorum K\n".encode())


@pytest.mark.parametrize(
    "build",
    [
        lambda a, b: "witness A " + a + "\n",  # no quorum line
        lambda a, b: "quorum none\nquorum none\n",  # two quorum lines
        lambda a, b: "quorum A\nwitness A " + a + "\n",  # quorum before the witness
        lambda a, b: "witness A " + a + "\nwitness B " + a + "\nquorum none\n",  # duplicate key
        lambda a, b: "witness A " + a + "\nwitness A " + b + "\nquorum none\n",  # duplicate name
        lambda a, b: "witness none " + a + "\nquorum none\n",
        lambda a, b: "witness A " + a + "\ngroup G 1 A none\nquorum G\n",
        lambda a, b: "witness A " + a + "\ngroup G 1 A A\nquorum G\n",  # a member twice
        lambda a, b: "witness A " + a + "\ngroup G 2 A\nquorum G\n",  # k > n
        lambda a, b: "witness A " + a + "\ngroup G 0 A\nquorum G\n",  # k < 1
        lambda a, b: "witness A " + a + "\ngroup G 01 A\nquorum G\n",
        lambda a, b: "witness A " + a + "\ngroup G any\nquorum G\n",  # no member
        lambda a, b: "witness A " + a + "\ngroup G any B\nquorum G\n",  # undefined member
        lambda a, b: "witness A " + a + "\ngroup G any G\nquorum G\n",  # itself
        lambda a, b: "witness A " + a + "\r\nquorum A\n",  # CR is a control character
        lambda a, b: "witness A " + a + "\x0bquorum A\n",
        lambda a, b: "witness A " + a + " url extra\nquorum A\n",
        lambda a, b: "witness A not-a-key\nquorum A\n",
        lambda a, b: "log " + a + "\nquorum none\n",  # a cosigner key is no log key
        lambda a, b: "witnesses A " + a + "\nquorum none\n",
    ],
)
def test_policies_the_spec_forbids(build) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PolicyError) as caught:
        parse_policy(build(_w(), _w()).encode())
    assert "策略文件" in str(caught.value)


def test_duplicate_logs_and_the_log_key_name() -> None:
    private = Ed25519PrivateKey.generate().private_bytes_raw()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey as K

    from app.ledger.checkpoint import signer_key_string

    public = K.from_private_bytes(private).public_key().public_bytes_raw()
    assert signer_key_string("a.example/log", private)
    one, two = (
        verifier_key_string("a.example/log", public),
        verifier_key_string("b.example/log", public),
    )
    with pytest.raises(PolicyError, match="重复"):
        parse_policy(f"log {one}\nlog {two}\nquorum none\n".encode())
    policy = parse_policy(f"log {one} https://a.example/tlog/\nquorum none\n".encode())
    assert policy.logs[0].verifier.name == "a.example/log"
