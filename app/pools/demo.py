"""A deterministic demo pool of Hengyang, in the proportions the plans give.

No `random` anywhere: every choice is derived from SHA-256 of a label and a
row number, so the same pool comes out on every machine, every time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from app import reference as ref
from app.pools.uscc import make_uscc

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DemoEnterprise:
    uscc: str
    name: str
    county_code: str
    sector: str
    subtype: str
    status: str
    risk_grade: str | None
    key_supervision: bool
    tags: tuple[str, ...]
    pair_key: str | None
    address: str


@dataclass(frozen=True, slots=True)
class DemoInspector:
    name: str
    cert_no: str
    cert_valid_from: date
    cert_valid_to: date
    organisation: str
    county_code: str | None
    specialties: tuple[str, ...]
    active: bool
    phone: str


@dataclass(frozen=True, slots=True)
class DemoConflict:
    cert_no: str
    uscc: str
    reason: str
    valid_from: date
    valid_to: date | None


@dataclass(frozen=True, slots=True)
class DemoInspection:
    uscc: str
    date: date
    kind: str
    source: str
    note: str


@dataclass(frozen=True, slots=True)
class DemoPool:
    enterprises: tuple[DemoEnterprise, ...]
    inspectors: tuple[DemoInspector, ...]
    conflicts: tuple[DemoConflict, ...]
    inspections: tuple[DemoInspection, ...]


def _n(label: str, i: int, modulus: int) -> int:
    """A deterministic number in [0, modulus) for (label, i)."""
    digest = hashlib.sha256(f"{label}/{i}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % modulus


def _pick(items: Sequence[T], label: str, i: int) -> T:
    return items[_n(label, i, len(items))]


C = {c.name: c.code for c in ref.COUNTIES}
RURAL = ("衡阳县", "衡南县", "衡山县", "衡东县", "祁东县", "耒阳市", "常宁市")
URBAN = ("珠晖区", "雁峰区", "石鼓区", "蒸湘区", "南岳区")
ALL = RURAL + URBAN + ("高新区", "松木经开区")

_WORDS = (
    "恒达",
    "金源",
    "湘江",
    "雁城",
    "南岳",
    "祥和",
    "宏盛",
    "鑫海",
    "华瑞",
    "中联",
    "永兴",
    "东方",
    "泰和",
    "天成",
    "瑞丰",
    "兴旺",
    "众诚",
    "安达",
    "广源",
    "长虹",
    "富民",
    "明辉",
    "蒸湘",
    "耒水",
    "衡岳",
    "万通",
    "鸿运",
    "盛世",
    "嘉禾",
    "宝庆",
    "利民",
    "新兴",
    "晨光",
    "启航",
    "锦程",
    "福泰",
)
_STREETS = (
    "解放路",
    "船山大道",
    "蒸湘北路",
    "衡州大道",
    "华新大道",
    "白沙大道",
    "立新大道",
    "东风路",
)
_SUFFIX = {
    "hazchem_producer": "化工有限公司",
    "chemical": "化学有限公司",
    "gas_station": "加油站",
    "hazchem_storage": "化工贸易有限公司",
    "fireworks_wholesale": "烟花爆竹批发有限公司",
    "fireworks_retail": "烟花爆竹零售点",
    "coal_mine_state": "煤矿",
    "coal_mine_local": "煤矿",
    "underground_mine": "矿业有限公司（地下开采）",
    "open_pit_mine": "石料厂（露天开采）",
    "tailings_pond": "尾矿库",
    "ore_plant": "选矿厂",
    "metallurgy": "钢铁有限公司",
    "nonferrous": "有色金属有限公司",
    "machinery": "机械制造有限公司",
    "building_materials": "建材有限公司",
    "tobacco": "烟草物流有限公司",
    "textile": "纺织有限公司",
    "light_industry": "食品有限公司",
    "commerce": "商贸有限公司",
    "training_institution": "安全培训学校",
    "exam_site": "安全生产考试点",
    "safety_evaluator": "安全咨询评价有限公司",
}
_KEY_AREAS = (
    "metal_smelting",
    "combustible_dust",
    "aluminium_processing",
    "ammonia_refrigeration",
    "confined_space",
)


class _Builder:
    """Collects enterprises with unique codes and names."""

    def __init__(self) -> None:
        self.items: list[DemoEnterprise] = []
        self.names: set[str] = set()
        self.serial = 0

    def add(
        self,
        subtype: str,
        county_name: str,
        *,
        status: str = "operating",
        tags: tuple[str, ...] = (),
        pair_key: str | None = None,
        name: str | None = None,
    ) -> DemoEnterprise:
        self.serial += 1
        i = self.serial
        code = C[county_name]
        if name is None:
            word = _pick(_WORDS, "word", i) + _pick(_WORDS, "word2", i)
            name = f"衡阳市{county_name}{word}{_SUFFIX[subtype]}"
            n = 2
            while name in self.names:
                name = f"衡阳市{county_name}{word}{_SUFFIX[subtype]}第{n}分部"
                n += 1
        self.names.add(name)
        sector = ref.SECTOR_OF_SUBTYPE[subtype]
        risk = ("A", "B", "B", "B", "C", "C", "C", "D")[_n("risk", i, 8)]
        enterprise = DemoEnterprise(
            uscc=make_uscc(code, 100_000 + i, category="1"),
            name=name,
            county_code=code,
            sector=sector,
            subtype=subtype,
            status=status,
            risk_grade=risk,
            key_supervision=_n("key", i, 6) == 0 or "major_hazard" in tags,
            tags=tuple(sorted(set(tags))),
            pair_key=pair_key,
            address=f"衡阳市{county_name}{_pick(_STREETS, 'street', i)}{1 + _n('no', i, 300)}号",
        )
        self.items.append(enterprise)
        return enterprise


def _spread(total: int, counties: tuple[str, ...], label: str) -> list[str]:
    """`total` counties, every one of `counties` at least once when total allows."""
    return [
        counties[i % len(counties)] if i < len(counties) else _pick(counties, label, i)
        for i in range(total)
    ]


_HIGHWAYS = (
    ("G4", "京港澳", "衡山县"),
    ("G4", "京港澳", "衡南县"),
    ("G72", "泉南", "衡阳县"),
    ("G72", "泉南", "祁东县"),
    ("G55", "二广", "常宁市"),
    ("G55", "二广", "耒阳市"),
    ("S61", "岳临", "衡东县"),
    ("S80", "衡邵", "衡阳县"),
)


def _hazchem(b: _Builder) -> None:
    for i in range(31):
        county_name = "松木经开区" if i < 10 else ("高新区" if i < 14 else RURAL[i % len(RURAL)])
        tags = (
            ("major_hazard", "hazardous_process")
            if i % 4 == 0
            else (("major_hazard",) if i % 3 == 0 else ())
        )
        b.add("hazchem_producer", county_name, tags=tags)
    for i, county_name in enumerate(_spread(23, RURAL + ("松木经开区", "高新区"), "chem")):
        b.add("chemical", county_name, tags=("hazardous_process",) if i % 5 == 0 else ())
    # 636 stations with storage: 16 highway service-area stations in 8 pairs, 584
    # other gas stations, 36 other storage dealers.
    for road, road_name, county_name in _HIGHWAYS:
        key = f"pair-{road}-{C[county_name]}"
        for side in ("东", "西"):
            b.add(
                "gas_station",
                county_name,
                tags=("highway_station",),
                pair_key=key,
                name=f"{road_name}高速{county_name}服务区加油站（{side}区）",
            )
    for county_name in _spread(584, ALL, "gas"):
        b.add(
            "gas_station",
            county_name,
            status="operating" if _n("gs", b.serial, 25) else "suspended",
        )
    for county_name in _spread(36, ALL, "storage"):
        b.add("hazchem_storage", county_name)


# Wholesalers, and which of them are on the key-enforcement list (the plans name
# six, one each in these counties).
_WHOLESALE = {
    "衡南县": 4,
    "衡东县": 3,
    "祁东县": 3,
    "耒阳市": 3,
    "常宁市": 3,
    "衡阳县": 3,
    "衡山县": 3,
    "珠晖区": 1,
    "石鼓区": 1,
}
_KEY_WHOLESALE = ("衡南县", "衡东县", "祁东县", "耒阳市", "常宁市", "衡阳县")


def _fireworks(b: _Builder) -> None:
    for county_name, count in _WHOLESALE.items():
        for i in range(count):
            key = i == 0 and county_name in _KEY_WHOLESALE
            b.add("fireworks_wholesale", county_name, tags=("key_enforcement",) if key else ())
    for county_name in _spread(1742, ALL, "retail"):
        b.add("fireworks_retail", county_name)


def _mines(b: _Builder) -> None:
    mine_counties = RURAL + ("南岳区",)
    for i in range(26):
        status = ("operating", "operating", "construction", "suspended")[i % 4]
        subtype = "coal_mine_state" if i < 3 else "coal_mine_local"
        b.add(
            subtype,
            ("耒阳市", "常宁市", "衡南县", "祁东县")[i % 4],
            status=status,
            tags=("key_enforcement",) if i < 2 else (),
        )
    # 133 non-coal: 35 underground, 78 open pit, 17 tailings ponds, 3 ore plants;
    # about 40% producing, 12% under construction, the rest stopped.
    kinds = (
        ["underground_mine"] * 35
        + ["open_pit_mine"] * 78
        + ["tailings_pond"] * 17
        + ["ore_plant"] * 3
    )
    for i, subtype in enumerate(kinds):
        county_name = mine_counties[i % len(mine_counties)]
        bucket = _n("minestatus", i, 100)
        status = "operating" if bucket < 42 else ("construction" if bucket < 54 else "suspended")
        tags: tuple[str, ...] = ()
        if subtype == "tailings_pond" and i % 4 == 0:
            tags = ("headtop_tailings",)
        if subtype == "underground_mine" and i % 9 == 0:
            tags = ("deep_mine", "key_enforcement")
        b.add(subtype, county_name, status=status, tags=tags)


_INDUSTRY = {
    "metallurgy": 120,
    "nonferrous": 260,
    "machinery": 780,
    "building_materials": 420,
    "tobacco": 24,
    "textile": 150,
    "light_industry": 480,
    "commerce": 400,
}


def _industry(b: _Builder) -> None:
    for subtype, count in _INDUSTRY.items():
        for county_name in _spread(count, ALL, subtype):
            i = b.serial
            tags: tuple[str, ...] = ()
            if subtype in ("metallurgy", "nonferrous"):
                tags = ("metal_smelting",) if _n("smelt", i, 3) == 0 else ()
            elif _n("keyarea", i, 10) == 0:
                tags = (_pick(_KEY_AREAS[1:], "area", i),)
            status = "operating" if _n("ind", i, 20) else "suspended"
            b.add(subtype, county_name, status=status, tags=tags)


def _services(b: _Builder) -> None:
    for county_name in _spread(14, URBAN + RURAL[:3], "train"):
        b.add("training_institution", county_name)
    for county_name in ("石鼓区", "耒阳市", "常宁市"):
        b.add("exam_site", county_name)
    b.add("safety_evaluator", "蒸湘区", name="湖南安泰安全咨询评价有限公司")


_SURNAMES = "王李张刘陈杨黄赵周吴徐孙朱马胡郭林何高罗郑梁谢宋唐许邓冯韩曹曾彭萧蔡潘田董袁于余叶蒋杜苏魏程吕丁沈任姚卢傅钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎薛尹段雷黎史龙陶贺顾毛郝龚邵万钱严覃武戴莫孔汤"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国志红云峰斌辉鹏飞宇浩凯"


def _person(i: int) -> str:
    return (
        _SURNAMES[_n("surname", i, len(_SURNAMES))]
        + _GIVEN[_n("g1", i, len(_GIVEN))]
        + ("" if _n("len", i, 3) == 0 else _GIVEN[_n("g2", i, len(_GIVEN))])
    )


# organisation -> (members, specialties); brigades and the detachment get mixed specialties.
_STAFF: dict[str, tuple[int, tuple[str, ...]]] = {
    "危化烟花科": (8, ("hazchem", "fireworks")),
    "非煤矿山科": (6, ("noncoal",)),
    "工贸科": (6, ("industry",)),
    "煤矿监管科": (4, ("coal",)),
    "宣教科": (3, ("training", "evaluation")),
    "执法支队": (15, ()),
    "执法支队直属大队": (8, ()),
    "执法支队珠晖大队": (5, ()),
    "执法支队雁峰大队": (5, ()),
    "执法支队石鼓大队": (5, ()),
    "执法支队蒸湘大队": (5, ()),
}
_MIXED = (("hazchem", "fireworks"), ("noncoal", "coal"), ("industry",), ("hazchem", "industry"))


def _inspectors() -> list[DemoInspector]:
    staff = dict(_STAFF)
    for bureau in ref.ORGANISATIONS:
        if bureau.kind == "county_bureau":
            staff[bureau.name] = (5, ("hazchem", "fireworks", "noncoal", "industry"))
    county_code_of = {o.name: o.county_code for o in ref.ORGANISATIONS}
    out: list[DemoInspector] = []
    names: set[str] = set()
    serial = 0
    for organisation, (members, specialties) in staff.items():
        for _ in range(members):
            serial += 1
            name = _person(serial)
            k = 0
            while name in names:
                k += 1
                name = _person(serial + 1000 * k)
            names.add(name)
            start_year = 2021 + _n("certfrom", serial, 4)
            expired = serial % 29 == 0
            out.append(
                DemoInspector(
                    name=name,
                    cert_no=f"HN-0431-{serial:04d}",
                    cert_valid_from=date(start_year, 1 + _n("m", serial, 12), 1),
                    cert_valid_to=date(2024, 6, 30) if expired else date(start_year + 6, 12, 31),
                    organisation=organisation,
                    county_code=county_code_of[organisation],
                    specialties=specialties or _pick(_MIXED, "mixed", serial),
                    active=serial % 37 != 0,
                    phone=f"13{_n('p1', serial, 10)}{_n('p2', serial, 10**8):08d}"[:11].ljust(
                        11, "0"
                    ),
                )
            )
    return out


def demo_pool() -> DemoPool:
    """The Hengyang demo pool."""
    b = _Builder()
    _hazchem(b)
    _fireworks(b)
    _mines(b)
    _industry(b)
    _services(b)
    enterprises = tuple(b.items)
    inspectors = tuple(_inspectors())
    producers = [e for e in enterprises if e.subtype == "hazchem_producer"]
    conflicts = (
        DemoConflict(
            inspectors[0].cert_no, producers[0].uscc, "曾在该企业任职", date(2022, 1, 1), None
        ),
        DemoConflict(
            inspectors[1].cert_no, producers[11].uscc, "近亲属在该企业任职", date(2023, 3, 1), None
        ),
        DemoConflict(
            inspectors[40].cert_no,
            enterprises[100].uscc,
            "曾为该企业提供咨询服务",
            date(2024, 1, 1),
            date(2025, 12, 31),
        ),
    )
    sources = [u.name for u in ref.ORGANISATIONS if u.kind == "county_bureau"]
    inspections = tuple(
        DemoInspection(
            uscc=enterprises[_n("insp", i, len(enterprises))].uscc,
            date=date(2025, 1 + _n("im", i, 12), 1 + _n("id", i, 28)),
            kind="county",
            source=_pick(sources, "src", i),
            note="县级日常检查",
        )
        for i in range(60)
    )
    return DemoPool(enterprises, inspectors, conflicts, inspections)


def _scaled_weights() -> list[tuple[str, int]]:
    pool = demo_pool()
    counts: dict[str, int] = {}
    for e in pool.enterprises:
        counts[e.subtype] = counts.get(e.subtype, 0) + 1
    return sorted(counts.items())


def iter_scaled_enterprises(total: int) -> Iterator[DemoEnterprise]:
    """`total` generated enterprises in the demo pool's proportions (for benchmarks)."""
    weights = _scaled_weights()
    whole = sum(w for _, w in weights)
    # A fixed cyclic schedule of subtypes with the demo's proportions.
    schedule = [s for s, w in weights for _ in range(w)]
    counties = [c.code for c in ref.COUNTIES]
    for i in range(total):
        subtype = schedule[(i * 7919) % whole]
        county_code = counties[_n("sc", i, len(counties))]
        yield DemoEnterprise(
            uscc=make_uscc(county_code, 200_000_000 + i, category="2"),
            name=f"规模测试{ref.COUNTY_BY_CODE[county_code].name}{_SUFFIX[subtype]}{i:07d}",
            county_code=county_code,
            sector=ref.SECTOR_OF_SUBTYPE[subtype],
            subtype=subtype,
            status="operating" if i % 10 else "suspended",
            risk_grade="ABCD"[i % 4],
            key_supervision=i % 9 == 0,
            tags=("major_hazard",) if subtype == "hazchem_producer" and i % 3 == 0 else (),
            pair_key=None,
            address=f"规模测试地址{i}号",
        )
