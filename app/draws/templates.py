"""Ready plans from the Hengyang 2024 and 2025 annual plans (the seed documents).

Each one runs against the demo pool as shipped. Quotas are the plans' own
words: "危险化学品生产企业 5 家（松木经开区 3 家，其他县市区 2 家）", "加油站原则上每县
1 家", "非煤矿山 20%", "高速公路加油站 6 家（3 对）", ...
"""

from __future__ import annotations

from typing import Any

from app.draws.schemas import PlanCreate

_OPERATING = ["operating"]
_PRODUCING = ["operating", "construction"]  # "生产和在建"
_HAZCHEM_TEAM = {
    "team_size": 2,
    "units": [
        "危化烟花科",
        "执法支队",
        "执法支队直属大队",
        "执法支队珠晖大队",
        "执法支队雁峰大队",
        "执法支队石鼓大队",
        "执法支队蒸湘大队",
    ],
    "lead_units": ["危化烟花科", "执法支队"],
    "max_per_inspector": 4,
}
_MINES_TEAM = {
    "team_size": 2,
    "units": ["非煤矿山科", "执法支队", "执法支队直属大队"],
    "max_per_inspector": 4,
}
_INDUSTRY_TEAM = {
    "team_size": 2,
    "units": [
        "工贸科",
        "执法支队",
        "执法支队直属大队",
        "执法支队珠晖大队",
        "执法支队雁峰大队",
        "执法支队石鼓大队",
        "执法支队蒸湘大队",
    ],
    "max_per_inspector": 4,
}
_KEY_AREAS = [
    "metal_smelting",
    "combustible_dust",
    "aluminium_processing",
    "ammonia_refrigeration",
    "confined_space",
]
_MINE_COUNTIES = ["衡阳县", "衡南县", "衡山县", "衡东县", "祁东县", "耒阳市", "常宁市"]
_CROSS_COUNTIES = ["衡阳县", "衡南县", "衡山县", "衡东县", "祁东县", "耒阳市", "常宁市"]


def _stratum(
    id_: str,
    label: str,
    rule: dict[str, Any],
    cluster_by: str | None = None,
    exclude_key_enforcement_counties_of: tuple[str, ...] = (),
    **filter_: Any,
) -> dict[str, Any]:
    return {
        "id": id_,
        "label": label,
        "filter": filter_,
        "cluster_by": cluster_by,
        "exclude_key_enforcement_counties_of": list(exclude_key_enforcement_counties_of),
    } | rule


def _cross(counties: list[str]) -> dict[str, Any]:
    return {"teams": [{"key": f"team-{c}", "home": c} for c in counties], "targets": counties}


def _plan(**fields: Any) -> PlanCreate:
    return PlanCreate.model_validate(fields)


TEMPLATES: dict[str, PlanCreate] = {
    "2024-hazchem": _plan(
        title="2024年危险化学品（烟花爆竹）“双随机、一公开”抽查",
        year=2024,
        quarter=2,
        sector="hazchem",
        lead_unit="危化烟花科",
        planned_month="2024-05",
        spec={
            "strata": [
                _stratum(
                    "hazchem-songmu",
                    "松木经开区危险化学品生产企业",
                    {"count": 3},
                    subtype=["hazchem_producer"],
                    county_in=["松木经开区"],
                    status=_OPERATING,
                ),
                _stratum(
                    "hazchem-other",
                    "其他县市区危险化学品生产企业",
                    {"count": 2},
                    subtype=["hazchem_producer"],
                    county_not_in=["松木经开区"],
                    status=_OPERATING,
                ),
                _stratum(
                    "chemical", "化工企业", {"count": 5}, subtype=["chemical"], status=_OPERATING
                ),
                _stratum(
                    "gas",
                    "加油站（原则上每县 1 家）",
                    {"per_group": {"by": "county", "count": 1, "max_groups": 10}},
                    subtype=["gas_station"],
                    status=_OPERATING,
                    county_not_in=["高新区", "松木经开区"],
                ),
                _stratum(
                    "fireworks",
                    "烟花爆竹批发企业（不含重点执法企业所在县）",
                    {"count": 2},
                    subtype=["fireworks_wholesale"],
                    status=_OPERATING,
                    exclude_key_enforcement_counties_of=("fireworks_wholesale",),
                ),
            ],
            "inspectors": _HAZCHEM_TEAM | {"specialty": "hazchem"},
        },
    ),
    "2024-coal": _plan(
        title="2024年煤矿“双随机、一公开”抽查",
        year=2024,
        quarter=3,
        sector="coal",
        lead_unit="煤矿监管科",
        planned_month="2024-08",
        spec={
            "strata": [
                _stratum(
                    "coal-local",
                    "地方煤矿",
                    {"count": 1},
                    subtype=["coal_mine_local"],
                    status=_PRODUCING,
                )
            ],
            "inspectors": {"team_size": 2, "units": ["煤矿监管科", "执法支队", "执法支队直属大队"]},
        },
    ),
    "2024-noncoal": _plan(
        title="2024年非煤矿山“双随机、一公开”抽查（生产和在建矿山的 20%）",
        year=2024,
        quarter=2,
        sector="noncoal",
        lead_unit="非煤矿山科",
        planned_month="2024-06",
        spec={
            "strata": [
                _stratum(
                    "mines-20pct",
                    "生产和在建的地下、露天矿山",
                    {"ratio": "0.2"},
                    subtype=["underground_mine", "open_pit_mine"],
                    status=_PRODUCING,
                )
            ],
            "inspectors": _MINES_TEAM,
        },
    ),
    "2024-noncoal-cross": _plan(
        title="2024年非煤矿山交叉执法（各县生产和在建矿山的 25%）",
        year=2024,
        quarter=3,
        sector="noncoal",
        lead_unit="非煤矿山科",
        planned_month="2024-09",
        spec={
            "strata": [
                _stratum(
                    "cross-25pct",
                    "各县生产和在建矿山",
                    {"per_group": {"by": "county", "ratio": "0.25"}},
                    subtype=["underground_mine", "open_pit_mine"],
                    status=_PRODUCING,
                    county_in=_MINE_COUNTIES,
                )
            ],
            "cross": _cross(_MINE_COUNTIES),
        },
    ),
    "2024-industry": _plan(
        title="2024年工贸行业“双随机、一公开”抽查",
        year=2024,
        quarter=2,
        sector="industry",
        lead_unit="工贸科",
        planned_month="2024-06",
        spec={
            "strata": [
                _stratum(
                    "key-areas",
                    "重点领域（冶金、粉尘涉爆、涉氨制冷等）",
                    {"count": 6},
                    sector=["industry"],
                    status=_OPERATING,
                    tags_any=_KEY_AREAS,
                ),
                _stratum(
                    "industry",
                    "其他工贸企业",
                    {"count": 6},
                    sector=["industry"],
                    status=_OPERATING,
                    tags_none=_KEY_AREAS,
                ),
            ],
            "inspectors": _INDUSTRY_TEAM,
        },
    ),
    "2024-training": _plan(
        title="2024年安全培训机构、考试点“双随机、一公开”抽查",
        year=2024,
        quarter=3,
        sector="training",
        lead_unit="宣教科",
        planned_month="2024-09",
        spec={
            "strata": [
                _stratum(
                    "training",
                    "安全培训机构和考试点",
                    {"count": 3},
                    subtype=["training_institution", "exam_site"],
                )
            ],
            "inspectors": {"team_size": 2},
        },
    ),
    "2025-hazchem": _plan(
        title="2025年危险化学品（烟花爆竹）“双随机、一公开”抽查",
        year=2025,
        quarter=2,
        sector="hazchem",
        lead_unit="危化烟花科",
        planned_month="2025-05",
        spec={
            "strata": [
                _stratum(
                    "producers",
                    "危险化学品生产企业",
                    {"count": 3},
                    subtype=["hazchem_producer"],
                    status=_OPERATING,
                ),
                _stratum(
                    "chemical", "化工企业", {"count": 2}, subtype=["chemical"], status=_OPERATING
                ),
                _stratum(
                    "highway-pairs",
                    "高速公路服务区加油站（成对）",
                    {"count": 3},
                    subtype=["gas_station"],
                    tags_all=["highway_station"],
                    cluster_by="pair_key",
                ),
                _stratum(
                    "fireworks",
                    "烟花爆竹批发企业",
                    {"count": 1},
                    subtype=["fireworks_wholesale"],
                    status=_OPERATING,
                ),
            ],
            "inspectors": _HAZCHEM_TEAM | {"specialty": "hazchem"},
        },
    ),
    "2025-noncoal-q3": _plan(
        title="2025年第三季度非煤矿山“双随机、一公开”抽查",
        year=2025,
        quarter=3,
        sector="noncoal",
        lead_unit="非煤矿山科",
        planned_month="2025-08",
        spec={
            "strata": [
                _stratum(
                    "mines",
                    "生产和在建的非煤矿山",
                    {"count": 5},
                    sector=["noncoal"],
                    status=_PRODUCING,
                )
            ],
            "inspectors": _MINES_TEAM,
        },
    ),
    "2025-noncoal-q4": _plan(
        title="2025年第四季度非煤矿山“双随机、一公开”抽查",
        year=2025,
        quarter=4,
        sector="noncoal",
        lead_unit="非煤矿山科",
        planned_month="2025-11",
        spec={
            "strata": [
                _stratum(
                    "mines",
                    "生产和在建的非煤矿山",
                    {"count": 3},
                    sector=["noncoal"],
                    status=_PRODUCING,
                )
            ],
            "inspectors": _MINES_TEAM,
        },
    ),
    **{
        f"2025-industry-q{q}": _plan(
            title=f"2025年第{'一二三四'[q - 1]}季度工贸行业“双随机、一公开”抽查",
            year=2025,
            quarter=q,
            sector="industry",
            lead_unit="工贸科",
            planned_month=month,
            spec={
                "strata": [
                    _stratum(
                        "industry", "工贸企业", {"count": n}, sector=["industry"], status=_OPERATING
                    )
                ],
                "inspectors": _INDUSTRY_TEAM,
            },
        )
        for q, month, n in ((2, "2025-05", 5), (3, "2025-08", 5), (4, "2025-11", 2))
    },
    "2025-training": _plan(
        title="2025年安全培训机构“双随机、一公开”抽查",
        year=2025,
        quarter=3,
        sector="training",
        lead_unit="宣教科",
        planned_month="2025-09",
        spec={
            "strata": [
                _stratum("training", "安全培训机构", {"count": 2}, subtype=["training_institution"])
            ],
            "inspectors": {"team_size": 2},
        },
    ),
    "2025-hazchem-cross": _plan(
        title="2025年危险化学品（烟花爆竹）县际交叉执法（40 家）",
        year=2025,
        quarter=3,
        sector="hazchem",
        lead_unit="危化烟花科",
        planned_month="2025-09",
        spec={
            "strata": [
                _stratum(
                    "producers",
                    "危险化学品生产企业",
                    {"count": 5},
                    subtype=["hazchem_producer"],
                    status=_OPERATING,
                    county_in=_CROSS_COUNTIES,
                ),
                _stratum(
                    "chemical",
                    "化工企业",
                    {"count": 5},
                    subtype=["chemical"],
                    status=_OPERATING,
                    county_in=_CROSS_COUNTIES,
                ),
                _stratum(
                    "gas",
                    "加油站",
                    {"count": 13},
                    subtype=["gas_station"],
                    status=_OPERATING,
                    county_in=_CROSS_COUNTIES,
                ),
                _stratum(
                    "fireworks",
                    "烟花爆竹批发企业",
                    {"count": 17},
                    subtype=["fireworks_wholesale"],
                    status=_OPERATING,
                    county_in=_CROSS_COUNTIES,
                ),
            ],
            "exclusions": {"key_enforcement": False},
            "cross": _cross(_CROSS_COUNTIES),
        },
    ),
}


def planned_total(plan: PlanCreate) -> int | None:
    """How many units a plan takes, when its quotas say it plainly."""
    total = 0
    for stratum in plan.spec.strata:
        if stratum.count is None:
            return None
        total += stratum.count
    return total
