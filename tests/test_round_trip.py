"""Export -> import is a no-op: the prefix that keeps a spreadsheet from running a
value as a formula is added on export and removed on import of the same file."""

from __future__ import annotations

import pytest

from app.pools.tabular import neutralise, restore_neutralised
from tests.factories import ApiClient, create_enterprise, uscc

RISKY = ["=1+2 加油站", "+86 衡阳", "-衡南县站", "@衡阳", "'=已有引号", "''双引号", "'普通引号"]


@pytest.mark.parametrize("value", [*RISKY, "衡南县", "", "'"])
def test_restore_undoes_neutralise(value: str) -> None:
    assert restore_neutralised(neutralise(value)) == value


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(client: ApiClient, fmt: str) -> None:
    names = [f"{risky}有限公司" for risky in RISKY]
    for serial, name in enumerate(names, start=1):
        create_enterprise(client, uscc=uscc(serial=serial), name=name)
    exported = client.get(f"/api/v1/enterprises/export?format={fmt}")
    assert exported.status_code == 200
    if fmt == "csv":
        text = exported.content.decode("utf-8-sig")
        assert "'=1+2 加油站有限公司" in text  # neutralised in the file
    again = client.post(
        "/api/v1/enterprises/import", files={"file": (f"导出.{fmt}", exported.content)}
    )
    assert again.status_code == 200, again.text
    assert again.json()["unchanged"] == len(names) and again.json()["updated"] == 0
    listed = [e["name"] for e in client.get("/api/v1/enterprises").json()["items"]]
    assert sorted(listed) == sorted(names)
