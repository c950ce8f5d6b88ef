"""统一社会信用代码 (GB 32100-2015): normalise, validate, and make demo codes."""

from __future__ import annotations

import re
from operator import mul

from app.pools.cells import half_width

_FORMAT = re.compile(r"^[1-9ANY][1-9][0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")
_SCIENTIFIC = re.compile(r"^[0-9](?:[.,][0-9]+)?E\+?[0-9]+$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s\-]")

# GB 32100-2015's check digit, the same sum as python-stdnum's
# stdnum.cn.uscc.calc_check_digit (the tests hold the two equal). stdnum
# normalises its argument again on every call, which costs more than the rest
# of a row's validation together; here the code is normalised and its format
# checked once, before the sum.
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Each character's value as a byte at the character's own code: bytes.translate
# turns a code into its values in one call, and the sum runs in C (an import
# computes a million of these).
_VALUES = bytes(_ALPHABET.index(chr(b)) if chr(b) in _ALPHABET else 0 for b in range(256))
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class InvalidUSCC(ValueError):
    """A code that is not a valid USCC, with a stable `code` and a Chinese `message`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def validate_uscc(value: str) -> str:
    """The normalised code, or InvalidUSCC saying what is wrong."""
    raw = half_width(value).strip()
    if _SCIENTIFIC.match(raw):
        raise InvalidUSCC(
            "uscc_scientific",
            f"“{raw}”是 Excel 转成的科学计数法数字，代码已丢失位数；请把该列设为文本格式后重新填写",
        )
    number = _SEPARATORS.sub("", raw).upper()
    if len(number) != 18:
        raise InvalidUSCC("uscc_length", f"统一社会信用代码应为18位，实为{len(number)}位")
    if not _FORMAT.match(number):
        raise InvalidUSCC(
            "uscc_format", "统一社会信用代码格式不符（含不允许的字符或登记管理部门代码）"
        )
    expected = check_digit(number[:17])
    if number[17] != expected:
        raise InvalidUSCC("uscc_checksum", f"校验位错误：应为 {expected}，实为 {number[17]}")
    return number


def is_normal_uscc(code: str) -> bool:
    """Whether `code` is a valid code already in the form validate_uscc gives
    (which then returns it unchanged): only its check character is computed.

    >>> is_normal_uscc("91430422MA4L12345M"), is_normal_uscc("91430422ma4l12345m")
    (True, False)
    """
    return (
        len(code) == 18 and _FORMAT.match(code) is not None and check_digit(code[:17]) == code[17]
    )


def check_digit(body: str) -> str:
    """The check digit of the first 17 characters of a code already in format."""
    return _ALPHABET[-sum(map(mul, body.encode("ascii").translate(_VALUES), _WEIGHTS)) % 31]


def make_uscc(region_code: str, serial: int, authority: str = "9", category: str = "1") -> str:
    """A valid code built from a serial number."""
    body = f"{authority}{category}{region_code}{serial:09d}"
    return body + check_digit(body)
