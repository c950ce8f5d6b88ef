"""Reference vocabularies of the Hengyang directories.

Codes are stable English identifiers used in the API, in draw frames and in
files; labels are the Chinese names bureau staff read and type. Import files
may use either.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class County:
    code: str  # GB/T 2260 code, or the statistical division code for a park
    name: str
    full_name: str
    kind: str  # "district" | "county" | "city" | "park"


# The 12 counties, districts and county-level cities of 衡阳市 (GB/T 2260), then
# the two parks with their statistical division codes (统计用区划代码): the parks
# run their own safety bureaus, so the plans treat them as counties.
COUNTIES: tuple[County, ...] = (
    County("430405", "珠晖区", "衡阳市珠晖区", "district"),
    County("430406", "雁峰区", "衡阳市雁峰区", "district"),
    County("430407", "石鼓区", "衡阳市石鼓区", "district"),
    County("430408", "蒸湘区", "衡阳市蒸湘区", "district"),
    County("430412", "南岳区", "衡阳市南岳区", "district"),
    County("430421", "衡阳县", "衡阳县", "county"),
    County("430422", "衡南县", "衡南县", "county"),
    County("430423", "衡山县", "衡山县", "county"),
    County("430424", "衡东县", "衡东县", "county"),
    County("430426", "祁东县", "祁东县", "county"),
    County("430481", "耒阳市", "耒阳市", "city"),
    County("430482", "常宁市", "常宁市", "city"),
    County("430472", "高新区", "衡阳高新技术产业开发区", "park"),
    County("430473", "松木经开区", "衡阳松木经济开发区", "park"),
)

COUNTY_BY_CODE = {c.code: c for c in COUNTIES}
COUNTY_BY_NAME = {c.name: c for c in COUNTIES} | {c.full_name: c for c in COUNTIES}
# What clerks write before a county's name: "湖南省衡阳市常宁市", "衡阳市衡南县".
CITY_PREFIXES = ("湖南省", "衡阳市")


def without_city_prefix(text: str) -> str:
    """A county's name without the province and city before it.

    >>> without_city_prefix("衡阳市常宁市"), without_city_prefix("湖南省衡阳市松木经济开发区")
    ('常宁市', '衡阳松木经济开发区')
    """
    rest = text
    for prefix in CITY_PREFIXES:
        rest = rest.removeprefix(prefix)
    if rest == text or not rest:
        return text
    if rest not in COUNTY_BY_NAME and "衡阳" + rest in COUNTY_BY_NAME:
        return "衡阳" + rest  # the parks' own full names begin with 衡阳
    return rest


def county_of(text: str) -> County | None:
    """The county a code, a name or a full name (with or without 衡阳市) means."""
    return (
        COUNTY_BY_CODE.get(text)
        or COUNTY_BY_NAME.get(text)
        or COUNTY_BY_NAME.get(without_city_prefix(text))
    )


@dataclass(frozen=True, slots=True)
class Term:
    code: str
    label: str


SECTORS: tuple[Term, ...] = (
    Term("hazchem", "危险化学品"),
    Term("fireworks", "烟花爆竹"),
    Term("coal", "煤矿"),
    Term("noncoal", "非煤矿山"),
    Term("industry", "工贸"),
    Term("training", "安全培训"),
    Term("evaluation", "安全评价"),
)

# sector code -> its subtypes, in the words of the seed plans.
SUBTYPES: dict[str, tuple[Term, ...]] = {
    "hazchem": (
        Term("hazchem_producer", "危险化学品生产企业"),
        Term("chemical", "化工企业"),
        Term("gas_station", "加油站"),
        Term("hazchem_storage", "危险化学品经营企业（带储存）"),
    ),
    "fireworks": (
        Term("fireworks_wholesale", "烟花爆竹批发企业"),
        Term("fireworks_retail", "烟花爆竹零售点"),
    ),
    "coal": (
        Term("coal_mine_state", "省属国有煤矿"),
        Term("coal_mine_local", "地方煤矿"),
    ),
    "noncoal": (
        Term("underground_mine", "地下矿山"),
        Term("open_pit_mine", "露天矿山"),
        Term("tailings_pond", "尾矿库"),
        Term("ore_plant", "选矿厂"),
    ),
    "industry": (
        Term("metallurgy", "冶金"),
        Term("nonferrous", "有色"),
        Term("machinery", "机械"),
        Term("building_materials", "建材"),
        Term("tobacco", "烟草"),
        Term("textile", "纺织"),
        Term("light_industry", "轻工"),
        Term("commerce", "商贸"),
    ),
    "training": (
        Term("training_institution", "安全培训机构"),
        Term("exam_site", "考试点"),
    ),
    "evaluation": (Term("safety_evaluator", "安全评价机构"),),
}

SECTOR_OF_SUBTYPE = {t.code: sector for sector, terms in SUBTYPES.items() for t in terms}

STATUSES: tuple[Term, ...] = (
    Term("operating", "正常生产经营"),
    Term("construction", "在建"),
    Term("suspended", "停产停业"),
    Term("closed", "关闭"),
)

# 分级分类: A is the lowest risk, D the highest.
RISK_GRADES: tuple[Term, ...] = (
    Term("A", "A类（低风险）"),
    Term("B", "B类（一般风险）"),
    Term("C", "C类（较大风险）"),
    Term("D", "D类（重大风险）"),
)

TAGS: tuple[Term, ...] = (
    Term("major_hazard", "重大危险源"),
    Term("hazardous_process", "危险化工工艺"),
    Term("headtop_tailings", "头顶库"),
    Term("highway_station", "高速公路服务区加油站"),
    Term("key_enforcement", "重点执法"),
    Term("deep_mine", "采深超800米"),
    Term("metal_smelting", "金属冶炼"),
    Term("combustible_dust", "粉尘涉爆"),
    Term("aluminium_processing", "铝加工（深井铸造）"),
    Term("ammonia_refrigeration", "涉氨制冷"),
    Term("confined_space", "有限空间作业"),
)

OUTCOMES: tuple[Term, ...] = (
    Term("no_problem", "未发现问题"),
    Term("rectify", "责令限期整改"),
    Term("case_filed", "立案查处"),
)

INSPECTION_KINDS: tuple[Term, ...] = (
    Term("city", "市级双随机抽查"),
    Term("county", "县级检查"),
    Term("cross", "交叉执法"),
    Term("key_enforcement", "重点执法"),
    Term("special", "专项或重点时段检查"),
)


@dataclass(frozen=True, slots=True)
class Organisation:
    """A unit of the bureau that inspectors belong to (单位); a sampling unit is
    another thing (app.draws.units)."""

    name: str
    kind: str  # "section" | "detachment" | "brigade" | "county_bureau"
    county_code: str | None


# The bureau's own sections, the enforcement detachment with its brigades, and the
# county and park bureaus, as the plans name them.
ORGANISATIONS: tuple[Organisation, ...] = (
    Organisation("危化烟花科", "section", None),
    Organisation("非煤矿山科", "section", None),
    Organisation("工贸科", "section", None),
    Organisation("煤矿监管科", "section", None),
    Organisation("宣教科", "section", None),
    Organisation("执法支队", "detachment", None),
    Organisation("执法支队直属大队", "brigade", None),
    Organisation("执法支队珠晖大队", "brigade", "430405"),
    Organisation("执法支队雁峰大队", "brigade", "430406"),
    Organisation("执法支队石鼓大队", "brigade", "430407"),
    Organisation("执法支队蒸湘大队", "brigade", "430408"),
    *(
        Organisation(f"{c.name}应急管理局", "county_bureau", c.code)
        for c in COUNTIES
        if c.kind != "park" and c.code not in {"430405", "430406", "430407", "430408"}
    ),
    Organisation("高新区应急维稳事务中心", "county_bureau", "430472"),
    Organisation("松木经开区安全生产监督管理局", "county_bureau", "430473"),
)

ORGANISATION_NAMES = frozenset(o.name for o in ORGANISATIONS)


def term_codes(terms: tuple[Term, ...]) -> frozenset[str]:
    """The codes of a vocabulary, for validation."""
    return frozenset(t.code for t in terms)


def term_index(terms: tuple[Term, ...]) -> dict[str, str]:
    """A vocabulary's code of each code and each Chinese label, built once and
    looked up per value (a million-row import looks up several per row)."""
    index: dict[str, str] = {}
    for term in reversed(terms):  # where a text is two terms' code or label, the first wins
        index[term.label] = term.code
        index[term.code] = term.code
    return index


ALL_SUBTYPES: tuple[Term, ...] = tuple(t for terms in SUBTYPES.values() for t in terms)
