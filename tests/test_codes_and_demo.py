"""Unified social credit codes, the demo pool, and reading real spreadsheet files."""

from __future__ import annotations

import io
from collections import Counter

import openpyxl
import pytest
import xlwt
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn.uscc import calc_check_digit

from app import reference as ref
from app.pools.demo import demo_pool, iter_scaled_enterprises
from app.pools.import_template import TemplateColumn, template_xlsx
from app.pools.tabular import TableError, read_table
from app.pools.uscc import InvalidUSCC, check_digit, make_uscc, validate_uscc


def _code(body17: str) -> str:
    return body17 + calc_check_digit(body17)


@pytest.mark.parametrize(
    "body",
    [
        "91430400MA4L1X2Y3",
        "Y1430422MA4L1X2Y3",
        "N2430481123456789",
        "A1430100123456789",
        "52430405MJ0000001",
        "11430000006092016",
    ],
)
def test_valid_codes_including_authorities_stdnum_rejects(body: str) -> None:
    code = _code(body)
    assert validate_uscc(code) == code
    assert validate_uscc(f" {code.lower()} ") == code


_BODY_CHARACTERS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@settings(max_examples=2_000, deadline=None)
@given(
    st.text(alphabet="123456789ANY", min_size=1, max_size=1),
    st.text(alphabet="123456789", min_size=1, max_size=1),
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.text(alphabet=_BODY_CHARACTERS, min_size=9, max_size=9),
)
def test_check_digit_is_python_stdnums(authority: str, kind: str, region: str, rest: str) -> None:
    body = authority + kind + region + rest
    assert check_digit(body) == calc_check_digit(body)
    code = body + calc_check_digit(body)
    assert validate_uscc(code) == code
    wrong = next(c for c in _BODY_CHARACTERS if c != code[-1])
    with pytest.raises(InvalidUSCC):
        validate_uscc(body + wrong)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("91430400MA4L1X2Y", "uscc_length"),
        ("9.14304E+17", "uscc_scientific"),
        ("9,14304E+17", "uscc_scientific"),
        ("Z1430400MA4L1X2Y3" + "0", "uscc_format"),
        ("91430400MA4L1X2YI0", "uscc_format"),  # I is not in the alphabet
    ],
)
def test_invalid_codes_say_why(value: str, code: str) -> None:
    with pytest.raises(InvalidUSCC) as caught:
        validate_uscc(value)
    assert caught.value.code == code
    assert caught.value.message


def test_wrong_check_character_names_the_right_one() -> None:
    good = _code("91430400MA4L1X2Y3")
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(InvalidUSCC) as caught:
        validate_uscc(wrong)
    assert caught.value.code == "uscc_checksum"
    assert f"应为 {good[-1]}" in caught.value.message


def test_demo_pool_has_the_plans_proportions() -> None:
    pool = demo_pool()
    counts = Counter(e.subtype for e in pool.enterprises)
    assert counts["hazchem_producer"] == 31
    assert counts["chemical"] == 23
    assert counts["gas_station"] + counts["hazchem_storage"] == 636
    assert counts["fireworks_wholesale"] == 24
    assert counts["fireworks_retail"] == 1742
    assert counts["coal_mine_state"] + counts["coal_mine_local"] == 26
    noncoal = ("underground_mine", "open_pit_mine", "tailings_pond", "ore_plant")
    assert sum(counts[s] for s in noncoal) == 133
    assert sum(counts[t.code] for t in ref.SUBTYPES["industry"]) == 2634
    assert counts["training_institution"] == 14
    assert counts["safety_evaluator"] == 1
    songmu = [
        e for e in pool.enterprises if e.subtype == "hazchem_producer" and e.county_code == "430473"
    ]
    assert len(songmu) >= 9
    assert {e.county_code for e in pool.enterprises} == {c.code for c in ref.COUNTIES}
    assert 100 <= len(pool.inspectors) <= 140


def test_demo_codes_are_valid_unique_and_stable() -> None:
    pool = demo_pool()
    codes = [e.uscc for e in pool.enterprises]
    assert len(set(codes)) == len(codes)
    assert all(validate_uscc(c) == c for c in codes)
    assert len({e.name for e in pool.enterprises}) == len(codes)
    assert demo_pool() == pool
    pairs = Counter(e.pair_key for e in pool.enterprises if e.pair_key)
    assert len(pairs) >= 6 and set(pairs.values()) == {2}
    organisations = Counter(i.organisation for i in pool.inspectors if i.active)
    assert all(organisations[o.name] >= 2 for o in ref.ORGANISATIONS)


def test_scaled_pool_is_unique_and_in_proportion() -> None:
    scaled = list(iter_scaled_enterprises(10_000))
    assert len({e.uscc for e in scaled}) == 10_000
    assert all(validate_uscc(e.uscc) == e.uscc for e in scaled[:500])
    share = Counter(e.subtype for e in scaled)["fireworks_retail"] / 10_000
    assert abs(share - 1742 / len(demo_pool().enterprises)) < 0.01
    assert make_uscc("430422", 1) == _code("91430422000000001")


def test_a_real_xls_file_is_read_with_numbers_flagged() -> None:
    book = xlwt.Workbook()
    sheet = book.add_sheet("名录")
    for col, header in enumerate(["统一社会信用代码", "企业名称"]):
        sheet.write(0, col, header)
    sheet.write(1, 0, _code("91430400MA4L1X2Y3"))
    sheet.write(1, 1, "甲公司")
    sheet.write(3, 0, 914304220000000000.0)
    sheet.write(3, 1, "乙公司")
    buffer = io.BytesIO()
    book.save(buffer)
    table = read_table(io.BytesIO(buffer.getvalue()), "名录.xls")
    assert table.format == "xls"
    rows = list(table.rows)
    assert [r.number for r in rows] == [2, 4]  # the blank row 3 is skipped, not renumbered
    assert [r.numeric for r in rows] == [frozenset(), {0}]


def test_csv_rows_keep_their_line_numbers_across_quoted_newlines() -> None:
    data = '代码,地址\r\nA,"第一行\r\n第二行"\r\nB,普通\r\n'.encode("gbk")
    table = read_table(io.BytesIO(data), "x.csv")
    assert table.encoding == "gb18030"
    assert [(r.number, r.texts[0]) for r in table.rows] == [(2, "A"), (4, "B")]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_a_long_csv_is_read_whole_whatever_its_encoding(encoding: str) -> None:
    """The text is decoded as it is read and its encoding settled a megabyte at
    a time: characters cut by those pieces read whole, and a byte that is not
    UTF-8 far down the file still makes it GB18030."""
    lines = [f"{n},衡南县示例企业{n}号“有限”公司" for n in range(60_000)]  # ~2.5 MB
    data = ("代码,名称\r\n" + "\r\n".join(lines) + "\r\n").encode(encoding)
    table = read_table(io.BytesIO(data), "x.csv")
    assert table.encoding == encoding
    assert [",".join(r.texts) for r in table.rows] == lines


def test_a_csv_that_claims_utf8_but_is_not_is_refused_with_its_code() -> None:
    data = "\ufeff代码,名称\r\n1,甲\r\n".encode() + "乙".encode("gbk") + b"\r\n"
    with pytest.raises(TableError) as refused:
        list(read_table(io.BytesIO(data), "x.csv").rows)
    assert refused.value.code == "bad_encoding"


def test_a_nul_byte_in_a_gbk_file_is_not_a_table() -> None:
    data = "代码,名称\r\n1,甲\r\n".encode("gbk") + b"2,\x00\r\n"
    with pytest.raises(TableError) as refused:
        read_table(io.BytesIO(data), "x.csv")
    assert refused.value.code == "unreadable_file"


def test_headers_are_normalised() -> None:
    table = read_table(io.BytesIO("统一社会信用代码 *,企业名称（必填）\n1,2\n".encode()), "x.csv")
    assert table.headers == ("统一社会信用代码", "企业名称")


def test_template_has_lists_and_notes() -> None:
    data = template_xlsx(
        [
            TemplateColumn("统一社会信用代码", True, True, "9143...", None, "18位"),
            TemplateColumn(
                "县市区", True, False, "衡南县", tuple(c.name for c in ref.COUNTIES), "县"
            ),
        ]
    )
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["导入数据", "代码表", "填写说明"]
    validations = book["导入数据"].data_validations.dataValidation
    assert any("代码表" in (v.formula1 or "") for v in validations)
    notes = [c.value for c in book["填写说明"]["A"]]
    assert "统一社会信用代码" in notes
