"""The canonical JSON of frames and results is RFC 8785's, byte for byte.

The fast road (the standard library's sorted compact JSON) must give exactly
what the reference implementation, PyPI rfc8785, gives, or refuse exactly when
it refuses, for any JSON value: floats, huge integers, keys beyond the Basic
Multilingual Plane and lone surrogates included.
"""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from app.algorithm import FrameInvalid, jcs

texts = st.text(
    alphabet=st.characters(codec=None, blacklist_categories=()), max_size=8
) | st.sampled_from(["衡南县", "𠀾", "﨑", "\ud800", "é", "e\u0301", "\u2028", "\x7f", '"\\'])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=30,
)


def _reference(value: Any) -> bytes | None:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):  # a lone surrogate in a key
        return None


@settings(max_examples=1500, deadline=None)
@given(values)
def test_same_bytes_as_the_reference_or_the_same_refusal(value: Any) -> None:
    expected = _reference(value)
    if expected is None:
        with pytest.raises(FrameInvalid):
            jcs(value)
    else:
        assert jcs(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"\ue000": 1, "𠀾": 2},  # UTF-16 order puts the supplementary key first
        {"n": 2**53 - 1, "m": -(2**53 - 1)},
        {"x": 0.1, "y": 1e21, "z": -0.0},
        {"ctl": "\x00\x1f\b\f\n\r\t"},
        [True, False, None, "", {}],
    ],
)
def test_edge_values(value: Any) -> None:
    assert jcs(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value", [{"big": 2**53}, {"lone": "\udc00"}, {"\ud800": "lone in a key"}, {1: "int key"}]
)
def test_refusals(value: Any) -> None:
    with pytest.raises(FrameInvalid):
        jcs(value)
