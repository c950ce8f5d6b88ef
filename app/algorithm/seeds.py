"""The seed: `source + "/" + value + "/" + frame_hash` (spec section 4).

>>> fh = "0" * 64
>>> make_seed("dice", "38274619283746529183", fh) == "dice/38274619283746529183/" + fh
True
>>> make_seed("dice", "1234", fh)
Traceback (most recent call last):
...
app.algorithm.errors.SeedInvalid: dice value must be at least 20 decimal digits
"""

from __future__ import annotations

import re

from app.algorithm.errors import SeedInvalid

SOURCES = ("dice", "drand", "dice+drand")
MIN_DICE_DIGITS = 20

# ASCII only: str.isdigit() would also accept "٣" or "³", which other
# implementations would hash differently or refuse.
_DICE = re.compile(rf"[0-9]{{{MIN_DICE_DIGITS},}}")
# A quicknet round is a positive integer; its randomness is SHA-256 of the
# signature, so 32 bytes, written in lowercase hex as drand's API serves it.
_DRAND = re.compile(r"quicknet:[1-9][0-9]*:[0-9a-f]{64}")
_HASH = re.compile(r"[0-9a-f]{64}")
# dice+drand: the digits fixed at the ceremony, then the later round's value.
_DICE_DRAND = re.compile(rf"{_DICE.pattern}:{_DRAND.pattern}")


def check_seed_value(source: str, value: str) -> None:
    """Refuse a ceremony value that the spec does not allow for `source`."""
    if source not in SOURCES:
        raise SeedInvalid("source", f"seed source must be one of {SOURCES}", source)
    if source == "dice" and not _DICE.fullmatch(value):
        raise SeedInvalid(
            "dice_digits", f"dice value must be at least {MIN_DICE_DIGITS} decimal digits", value
        )
    if source == "drand" and not _DRAND.fullmatch(value):
        raise SeedInvalid(
            "drand_value", "drand value must be quicknet:<round>:<64 hex digits>", value
        )
    if source == "dice+drand" and not _DICE_DRAND.fullmatch(value):
        raise SeedInvalid(
            "dice_drand_value",
            f"dice+drand value must be <at least {MIN_DICE_DIGITS} digits>:quicknet:<round>:<64 hex>",
            value,
        )


def make_seed(source: str, value: str, frame_hash: str) -> str:
    """The seed of a draw from its public randomness and its frame's hash."""
    check_seed_value(source, value)
    if not _HASH.fullmatch(frame_hash):
        raise SeedInvalid("frame_hash", "frame hash must be 64 lowercase hex digits", frame_hash)
    return f"{source}/{value}/{frame_hash}"


def check_seed(seed: str, frame_hash: str) -> None:
    """Refuse a seed that is malformed or was not made for this frame.

    >>> check_seed("dice/38274619283746529183/" + "a" * 64, "b" * 64)
    Traceback (most recent call last):
    ...
    app.algorithm.errors.SeedInvalid: seed was made for frame aaaaaaaaaaaa…, not bbbbbbbbbbbb…
    """
    parts = seed.split("/")
    if len(parts) != 3:
        raise SeedInvalid("shape", "seed must be source/value/frame_hash", seed)
    source, value, bound_hash = parts
    check_seed_value(source, value)
    if bound_hash != frame_hash:
        # Binding the frame hash into the seed is what makes a seed single-use;
        # a seed for another frame is a clerical slip, never something to draw with.
        raise SeedInvalid(
            "frame_hash_mismatch",
            f"seed was made for frame {bound_hash[:12]}…, not {frame_hash[:12]}…",
            seed,
        )
