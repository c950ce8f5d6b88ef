"""How many units a quota takes (spec section 5), in exact arithmetic.

>>> Quota(count=None, ratio=parse_ratio("0.2")).size(15)
3
>>> Quota(count=None, ratio=parse_ratio("0.2")).size(11)
3
>>> Quota(count=4, ratio=None).size(11)
4
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

# A plain decimal: digits, optionally a point and more digits. No sign, no
# exponent, no spaces, no "1/5", no ".5", no redundant leading zeros: a ratio
# has one spelling an auditor reads the same in any language.
_PLAIN_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?")


def parse_ratio(text: str) -> Fraction:
    """The exact value of a ratio string, a plain decimal in (0, 1]; ValueError otherwise.

    >>> parse_ratio("0.25"), parse_ratio("1"), parse_ratio("1.00")
    (Fraction(1, 4), Fraction(1, 1), Fraction(1, 1))
    >>> parse_ratio("2e-1")
    Traceback (most recent call last):
    ...
    ValueError: ratio must be a plain decimal like "0.2", not '2e-1'
    """
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise ValueError(f'ratio must be a plain decimal like "0.2", not {text!r}')
    # Fraction parses a decimal string exactly: "0.1" is 1/10, not a binary float.
    value = Fraction(text)
    if not 0 < value <= 1:
        raise ValueError(f"ratio must be greater than 0 and at most 1, not {text!r}")
    return value


def ceil_times(n: int, ratio: Fraction) -> int:
    """ceil(n × ratio), exactly.

    >>> ceil_times(15, Fraction(1, 5)), ceil_times(16, Fraction(1, 5)), ceil_times(0, Fraction(1))
    (3, 4, 0)
    """
    # Floor division of the negated product rounds toward minus infinity,
    # which is ceiling of the product: integers only, no rounding mode to get wrong.
    return -((-n * ratio.numerator) // ratio.denominator)


@dataclass(frozen=True, slots=True)
class Quota:
    """Take `count` units, or ceil(n × `ratio`) of n; exactly one is set."""

    count: int | None
    ratio: Fraction | None

    def size(self, n: int) -> int:
        """How many of `n` units this quota takes."""
        if self.ratio is not None:
            return ceil_times(n, self.ratio)
        assert self.count is not None
        return self.count
