"""directories

Revision ID: 0001
Revises:
Create Date: 2026-11-23 05:29:13.256973
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "counties",
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("full_name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_counties")),
        sa.UniqueConstraint("name", name=op.f("uq_counties_name")),
    )
    op.create_table(
        "import_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batches")),
    )
    op.create_table(
        "change_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["import_batches.id"],
            name=op.f("fk_change_records_import_id_import_batches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_records")),
    )
    with op.batch_alter_table("change_records", schema=None) as batch_op:
        batch_op.create_index("ix_change_records_entity", ["entity", "entity_id"], unique=False)

    op.create_table(
        "enterprises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("sector", sa.String(length=32), nullable=False),
        sa.Column("subtype", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("risk_grade", sa.String(length=1), nullable=True),
        sa.Column("key_supervision", sa.Boolean(), nullable=False),
        sa.Column("pair_key", sa.String(length=64), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_reason", sa.String(length=200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("length(uscc) = 18", name=op.f("ck_enterprises_uscc_length")),
        sa.ForeignKeyConstraint(
            ["county_code"], ["counties.code"], name=op.f("fk_enterprises_county_code_counties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprises")),
        sa.UniqueConstraint("uscc", name=op.f("uq_enterprises_uscc")),
    )
    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enterprises_county_code"), ["county_code"], unique=False
        )
        batch_op.create_index(
            "ix_enterprises_filter", ["sector", "subtype", "county_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_enterprises_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_enterprises_pair_key"), ["pair_key"], unique=False)

    op.create_table(
        "units",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=True),
        sa.ForeignKeyConstraint(
            ["county_code"], ["counties.code"], name=op.f("fk_units_county_code_counties")
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_units")),
    )
    op.create_table(
        "enterprise_tags",
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_enterprise_tags_enterprise_id_enterprises"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("enterprise_id", "tag", name=op.f("pk_enterprise_tags")),
    )
    with op.batch_alter_table("enterprise_tags", schema=None) as batch_op:
        batch_op.create_index("ix_enterprise_tags_tag", ["tag", "enterprise_id"], unique=False)

    op.create_table(
        "inspections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("inspected_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_inspections_enterprise_id_enterprises"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspections")),
        sa.UniqueConstraint(
            "enterprise_id", "inspected_on", "kind", "source", name="uq_inspections_visit"
        ),
    )
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inspections_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(
            "ix_inspections_month", ["inspected_on", "enterprise_id"], unique=False
        )

    op.create_table(
        "inspectors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("cert_no", sa.String(length=32), nullable=False),
        sa.Column("cert_valid_from", sa.Date(), nullable=False),
        sa.Column("cert_valid_to", sa.Date(), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=True),
        sa.Column("specialties", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_code"], ["counties.code"], name=op.f("fk_inspectors_county_code_counties")
        ),
        sa.ForeignKeyConstraint(["unit"], ["units.name"], name=op.f("fk_inspectors_unit_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspectors")),
        sa.UniqueConstraint("cert_no", name=op.f("uq_inspectors_cert_no")),
    )
    with op.batch_alter_table("inspectors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inspectors_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_inspectors_unit"), ["unit"], unique=False)

    op.create_table(
        "conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inspector_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_conflicts_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["inspector_id"], ["inspectors.id"], name=op.f("fk_conflicts_inspector_id_inspectors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflicts")),
        sa.UniqueConstraint(
            "inspector_id", "enterprise_id", "valid_from", name="uq_conflicts_pair"
        ),
    )
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conflicts_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_conflicts_inspector_id"), ["inspector_id"], unique=False
        )

    # Reference data as it stood when this revision was written; later changes
    # to the vocabularies come as their own revisions.
    counties = sa.table(
        "counties",
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("full_name", sa.String),
        sa.column("kind", sa.String),
        sa.column("sort_order", sa.Integer),
    )
    op.bulk_insert(
        counties,
        [
            {
                "code": "430405",
                "name": "珠晖区",
                "full_name": "衡阳市珠晖区",
                "kind": "district",
                "sort_order": 0,
            },
            {
                "code": "430406",
                "name": "雁峰区",
                "full_name": "衡阳市雁峰区",
                "kind": "district",
                "sort_order": 1,
            },
            {
                "code": "430407",
                "name": "石鼓区",
                "full_name": "衡阳市石鼓区",
                "kind": "district",
                "sort_order": 2,
            },
            {
                "code": "430408",
                "name": "蒸湘区",
                "full_name": "衡阳市蒸湘区",
                "kind": "district",
                "sort_order": 3,
            },
            {
                "code": "430412",
                "name": "南岳区",
                "full_name": "衡阳市南岳区",
                "kind": "district",
                "sort_order": 4,
            },
            {
                "code": "430421",
                "name": "衡阳县",
                "full_name": "衡阳县",
                "kind": "county",
                "sort_order": 5,
            },
            {
                "code": "430422",
                "name": "衡南县",
                "full_name": "衡南县",
                "kind": "county",
                "sort_order": 6,
            },
            {
                "code": "430423",
                "name": "衡山县",
                "full_name": "衡山县",
                "kind": "county",
                "sort_order": 7,
            },
            {
                "code": "430424",
                "name": "衡东县",
                "full_name": "衡东县",
                "kind": "county",
                "sort_order": 8,
            },
            {
                "code": "430426",
                "name": "祁东县",
                "full_name": "祁东县",
                "kind": "county",
                "sort_order": 9,
            },
            {
                "code": "430481",
                "name": "耒阳市",
                "full_name": "耒阳市",
                "kind": "city",
                "sort_order": 10,
            },
            {
                "code": "430482",
                "name": "常宁市",
                "full_name": "常宁市",
                "kind": "city",
                "sort_order": 11,
            },
            {
                "code": "430472",
                "name": "高新区",
                "full_name": "衡阳高新技术产业开发区",
                "kind": "park",
                "sort_order": 12,
            },
            {
                "code": "430473",
                "name": "松木经开区",
                "full_name": "衡阳松木经济开发区",
                "kind": "park",
                "sort_order": 13,
            },
        ],
    )
    units = sa.table(
        "units",
        sa.column("name", sa.String),
        sa.column("kind", sa.String),
        sa.column("county_code", sa.String),
    )
    op.bulk_insert(
        units,
        [
            {"name": "危化烟花科", "kind": "section", "county_code": None},
            {"name": "非煤矿山科", "kind": "section", "county_code": None},
            {"name": "工贸科", "kind": "section", "county_code": None},
            {"name": "煤矿监管科", "kind": "section", "county_code": None},
            {"name": "宣教科", "kind": "section", "county_code": None},
            {"name": "执法支队", "kind": "detachment", "county_code": None},
            {"name": "执法支队直属大队", "kind": "brigade", "county_code": None},
            {"name": "执法支队珠晖大队", "kind": "brigade", "county_code": "430405"},
            {"name": "执法支队雁峰大队", "kind": "brigade", "county_code": "430406"},
            {"name": "执法支队石鼓大队", "kind": "brigade", "county_code": "430407"},
            {"name": "执法支队蒸湘大队", "kind": "brigade", "county_code": "430408"},
            {"name": "南岳区应急管理局", "kind": "county_bureau", "county_code": "430412"},
            {"name": "衡阳县应急管理局", "kind": "county_bureau", "county_code": "430421"},
            {"name": "衡南县应急管理局", "kind": "county_bureau", "county_code": "430422"},
            {"name": "衡山县应急管理局", "kind": "county_bureau", "county_code": "430423"},
            {"name": "衡东县应急管理局", "kind": "county_bureau", "county_code": "430424"},
            {"name": "祁东县应急管理局", "kind": "county_bureau", "county_code": "430426"},
            {"name": "耒阳市应急管理局", "kind": "county_bureau", "county_code": "430481"},
            {"name": "常宁市应急管理局", "kind": "county_bureau", "county_code": "430482"},
            {"name": "高新区应急维稳事务中心", "kind": "county_bureau", "county_code": "430472"},
            {
                "name": "松木经开区安全生产监督管理局",
                "kind": "county_bureau",
                "county_code": "430473",
            },
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conflicts_inspector_id"))
        batch_op.drop_index(batch_op.f("ix_conflicts_enterprise_id"))

    op.drop_table("conflicts")
    with op.batch_alter_table("inspectors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspectors_unit"))
        batch_op.drop_index(batch_op.f("ix_inspectors_name"))

    op.drop_table("inspectors")
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.drop_index("ix_inspections_month")
        batch_op.drop_index(batch_op.f("ix_inspections_enterprise_id"))

    op.drop_table("inspections")
    with op.batch_alter_table("enterprise_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_enterprise_tags_tag")

    op.drop_table("enterprise_tags")
    op.drop_table("units")
    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enterprises_pair_key"))
        batch_op.drop_index(batch_op.f("ix_enterprises_name"))
        batch_op.drop_index("ix_enterprises_filter")
        batch_op.drop_index(batch_op.f("ix_enterprises_county_code"))

    op.drop_table("enterprises")
    with op.batch_alter_table("change_records", schema=None) as batch_op:
        batch_op.drop_index("ix_change_records_entity")

    op.drop_table("change_records")
    op.drop_table("import_batches")
    op.drop_table("counties")
