"""A directory far larger than the demo: frames beyond what one SQL statement may bind."""

from __future__ import annotations

import json

import pytest

from app.db import make_engine, make_sessionmaker
from app.draws import service
from app.draws.schemas import PlanCreate
from app.pools.demo_load import load_scaled_pool
from tests.factories import freeze_with_dice, reveal_at_console

# PostgreSQL's protocol carries at most 65,535 bound parameters per statement.
BEYOND_BIND_LIMIT = 80_000
WITNESSES = ["王见证（纪检监察组）", "李公证（公证处）"]


@pytest.mark.postgres
def test_a_frame_of_more_units_than_bind_parameters_is_drawn(pg_db_url: str) -> None:
    engine = make_engine(pg_db_url)
    factory = make_sessionmaker(engine)
    with factory() as session:
        loaded = load_scaled_pool(session, BEYOND_BIND_LIMIT)
        session.commit()
    assert loaded["执法人员"] > 0  # teams can be drawn from the scaled pool
    plan = PlanCreate.model_validate(
        {
            "title": "全市在营企业随机抽查（规模测试）",
            "year": 2025,
            "planned_month": "2025-09",
            "spec": {
                "strata": [
                    {
                        "id": "all",
                        "label": "全部在营企业",
                        "filter": {"status": ["operating"]},
                        "count": 3,
                    }
                ],
                "inspectors": {"team_size": 2},
            },
        }
    )
    with factory() as session:
        created = service.create_plan(session, data=plan, actor="测试")
        draw = freeze_with_dice(session, created, WITNESSES)
        public_id = draw.public_id
        session.commit()
    frame = json.loads(draw.frame_jcs)
    assert len(frame["strata"][0]["units"]) > 65_535
    with factory() as session:
        done = reveal_at_console(session, public_id, "57721566490153286060", WITNESSES)
        session.commit()
        assert done.status == "done"
        result = json.loads(done.result_jcs or "{}")
    assert len(result["strata"][0]["selected"]) == 3
    assert len(result["assignments"]) == 3
    engine.dispose()
