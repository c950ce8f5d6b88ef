"""The enterprise import's fast reading against the model: for any file, the
same records, the same problems (row, column, message, code, value) and the
same warnings as reading every row with EnterpriseCreate, as the API does.

The cells are drawn from what clerks and hostile files put there: full-width
codes, lower case, wrong check characters, 衡阳市 prefixes, half-width
brackets, Excel's numbers, clear markers, NUL and bidirectional controls,
decomposed accents, lone surrogates, spaces inside, overlong text, words
pydantic reads as booleans, a highway station without its pair key, a sector
that does not match the category.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import ImportRejected
from app.pools import schemas
from app.pools.columns import ENTERPRISE_COLUMNS
from app.pools.enterprise_rows import _Plan, enterprise_rows
from app.pools.enterprise_writer import NewEnterprise
from app.pools.rows import ImportReport, Problems, layout, valid_rows
from app.pools.tabular import Row, Table
from app.pools.uscc import check_digit, make_uscc

GOOD = "91430422MA4L12345" + check_digit("91430422MA4L12345")  # with letters
CELLS: dict[str, list[str]] = {
    "uscc": [
        GOOD,
        make_uscc("430405", 123456),
        GOOD.lower(),
        GOOD[:17] + ("0" if GOOD[17] != "0" else "1"),
        GOOD[:17],
        "".join(chr(ord(c) + 0xFEE0) for c in GOOD),  # full-width
        GOOD[:8] + "-" + GOOD[8:],
        "9.14304E+17",
        "914304221234567.0",
        "1E00000000000000000",
        GOOD + "\x00",
        "（清空）",
    ],
    "name": [
        "衡南县示例加油站有限公司",
        "甲",
        "Cafe\u0301 有限公司",
        "名\u202e称有限",
        "A" * 201,
        "示例\ud800公司",
        "  ",
        "有\t限公司",
        "ab",
        "=1+2 公司",
    ],  # fmt: skip
    "county_code": [
        "衡南县",
        "衡阳市衡南县",
        "430422",
        "湖南省衡阳市常宁市",
        "长沙县",
        "衡南 县",
        "（清空）",
        "衡阳市",
        "衡阳松木经济开发区",
        "松木经济开发区",
    ],  # fmt: skip
    "sector": ["危险化学品", "hazchem", "烟花爆竹", "工贸", "未知行业", "(清空)"],
    "subtype": [
        "加油站",
        "gas_station",
        "危险化学品经营企业(带储存)",
        "危险化学品经营企业（带储存）",
        "烟花爆竹批发企业",
        "不存在的类别",
        "加油站\u3000",
    ],  # fmt: skip
    "status": ["正常生产经营", "operating", "停产", "歇业", "未知状态"],
    "risk_grade": ["B", "Ｂ", "b", "E", "（清空）", "A"],
    "key_supervision": ["是", "否", "Y", "√", "on", "off", "yes", "maybe", "１", "（清空）"],
    "tags": [
        "重大危险源",
        "重大危险源、危险化工工艺",
        "highway_station",
        "未知标签",
        "（清空）",
        "major_hazard,major_hazard",
        "、",
    ],  # fmt: skip
    "pair_key": [
        "pair-G4-hengshan",
        "ｐａｉｒ－１",
        "has space",
        "a:b",
        "x" * 65,
        "12345.0",
        "（清空）",
        "p\u200ek",
    ],  # fmt: skip
    "address": ["衡南县云集街道示例路1号", "路" * 301, "地址\x07", "（清空）", "x\r\ny"],
}
HEADERS = {c.field: c.header for c in ENTERPRISE_COLUMNS}


def _table(fields: Sequence[str], rows: list[Row]) -> Table:
    return Table(tuple(HEADERS[f] for f in fields), 1, iter(rows), "csv")


def _read(fast: bool, fields: Sequence[str], rows: list[Row]) -> tuple[Any, ...]:
    """What one way of reading gives: records, problems, the report's warnings."""
    report = ImportReport(target="enterprises", dry_run=True)
    problems = Problems()
    table = _table(fields, rows)
    where = layout(table, ENTERPRISE_COLUMNS, report, problems)
    records: list[tuple[Any, ...]] = []
    if fast:
        for row in enterprise_rows(table, "x.csv", where, problems, report):
            records.append((row.number, row.new, row.values, row.notes))
            assert row.valid().model == schemas.EnterpriseCreate.model_validate(
                row.values, by_name=True
            )
    else:
        for valid in valid_rows(table, "x.csv", schemas.EnterpriseCreate, where, problems, report):
            records.append((valid.number, NewEnterprise.of(valid.model), valid.values, valid.notes))
    report.finish_warnings()
    try:
        problems.raise_if_any("x.csv")
        refused = None
    except ImportRejected as exc:
        refused = str(exc)
    return records, [p.model_dump() for p in problems.items], report.warnings, refused


def _cell(field: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(CELLS[field]), st.just(""), st.text(max_size=6))


@st.composite
def _files(draw: st.DrawFn) -> tuple[list[str], list[Row]]:
    optional = [f for f in HEADERS if f not in ("uscc", "name", "county_code", "subtype")]
    fields = ["uscc", "name", "county_code", "subtype"] + draw(
        st.lists(st.sampled_from(optional), unique=True)
    )
    fields = draw(st.permutations(fields))
    rows = []
    for number in range(2, 2 + draw(st.integers(1, 6))):
        texts = [draw(_cell(f)) for f in fields]
        texts = texts[: draw(st.integers(len(texts) - 2, len(texts)))]  # short rows too
        trimmed = frozenset(draw(st.sets(st.integers(0, len(fields) - 1), max_size=2)))
        trimmed = frozenset(i for i in trimmed if i < len(texts) and texts[i])
        numeric = frozenset(draw(st.sets(st.integers(0, len(fields) - 1), max_size=1)))
        rows.append(Row(number, texts, numeric if draw(st.booleans()) else frozenset(), trimmed))
    return fields, rows


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_files())
def test_the_fast_reading_gives_what_the_model_gives(file: tuple[list[str], list[Row]]) -> None:
    fields, rows = file
    assert _read(True, fields, rows) == _read(False, fields, rows)


def test_plain_rows_take_the_fast_way_and_the_others_do_not() -> None:
    """The comparison above would hold trivially if every row went the model's
    way: plain rows are read without it, and a doubtful cell sends its row there."""
    fields = list(HEADERS)
    report, problems = ImportReport(target="enterprises", dry_run=True), Problems()
    plan = _Plan(layout(_table(fields, []), ENTERPRISE_COLUMNS, report, problems))
    plain = {"uscc": GOOD, "name": "衡南县示例加油站有限公司", "county_code": "衡阳市衡南县",
             "sector": "", "subtype": "加油站", "status": "", "risk_grade": "Ｂ",
             "key_supervision": "√", "tags": "重大危险源", "pair_key": "", "address": "衡南县示例路1号"}  # fmt: skip
    read = plan.read(Row(2, [plain[f] for f in fields]))
    assert read is not None
    new, _values, notes = read
    assert new == NewEnterprise(GOOD, "衡南县示例加油站有限公司", "430422", "hazchem", "gas_station",
                                "operating", "B", True, None, "衡南县示例路1号", ("major_hazard",))  # fmt: skip
    assert [where for where, _what, _how in notes] == [
        "C（县市区）",
        "G（风险等级）",
        "H（重点监管）",
    ]
    for field, doubtful in [("uscc", GOOD.lower()), ("name", "Cafe\u0301 有限公司"),
                            ("county_code", "长沙县"), ("tags", "highway_station"),
                            ("key_supervision", "（清空）"), ("address", "地址\x07")]:  # fmt: skip
        cells = plain | {field: doubtful}
        assert plan.read(Row(3, [cells[f] for f in fields])) is None, field
