"""The OpenAPI document as client generators need it.

Set here, in one place, rather than on each route: an explicit operationId
per operation (`draws_freeze`, `enterprises_import`), one tag per feature,
the role each operation needs, and the error answers it can really give (read
from the code by app.error_catalog), each under application/problem+json with
the shared Problem schema and the stable codes listed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic.json_schema import models_json_schema

from app.access.policy import ROLE_NAMES, Policy, policy_of
from app.error_catalog import ErrorCode, dependency_calls, errors_reached
from app.errors import PROBLEM_JSON
from app.routing import api_routes
from app.schemas import DOCUMENTED, NAMED_SCHEMA

# operationId of each endpoint whose name does not already say it as
# "<feature>_<action>"; an endpoint missing here is named "<tag>_<name>".
OPERATION_IDS: dict[str, str] = {
    "list_enterprises": "enterprises_list",
    "create_enterprise": "enterprises_create",
    "read_enterprise_by_uscc": "enterprises_read_by_uscc",
    "read_enterprise": "enterprises_read",
    "update_enterprise": "enterprises_update",
    "retire_enterprise": "enterprises_retire",
    "restore_enterprise": "enterprises_restore",
    "enterprise_history": "enterprises_history",
    "enterprise_inspections": "enterprises_inspections",
    "export_enterprises": "enterprises_export",
    "list_inspectors": "inspectors_list",
    "create_inspector": "inspectors_create",
    "read_inspector": "inspectors_read",
    "update_inspector": "inspectors_update",
    "retire_inspector": "inspectors_retire",
    "inspector_history": "inspectors_history",
    "export_inspectors": "inspectors_export",
    "list_conflicts": "conflicts_list",
    "create_conflict": "conflicts_create",
    "read_conflict": "conflicts_read",
    "update_conflict": "conflicts_update",
    "conflict_history": "conflicts_history",
    "list_inspections": "inspections_list",
    "create_inspection": "inspections_create",
    "export_inspections": "inspections_export",
    "reference_data": "reference_read",
    "list_plans": "plans_list",
    "create_plan": "plans_create",
    "list_templates": "plans_templates",
    "create_plan_from_template": "plans_create_from_template",
    "read_plan": "plans_read",
    "update_plan": "plans_update",
    "plan_history": "plans_history",
    "preview_plan": "plans_preview",
    "freeze_plan": "draws_freeze",
    "list_draws": "draws_list",
    "read_draw": "draws_read",
    "draw_history": "draws_history",
    "reveal_seed": "draws_seed",
    "confirm_seed": "draws_seed_confirm",
    "withdraw_seed": "draws_seed_withdraw",
    "reschedule": "draws_reschedule",
    "annul_draw": "draws_annul",
    "draw_bundle": "draws_bundle",
    "draw_fairness": "draws_fairness",
    "list_outcomes": "outcomes_list",
    "record_outcome": "outcomes_record",
    "publish_outcome": "outcomes_publish",
    "checkpoint": "log_checkpoint",
    "verifier_key": "log_key",
    "entries": "log_entries",
    "entry_with_proof": "log_entry",
    "consistency": "log_consistency",
    "list_keys": "keys_list",
    "create_key": "keys_create",
    "revoke_key": "keys_revoke",
    "healthz": "ops_healthz",
    "readyz": "ops_readyz",
    "metrics": "ops_metrics",
}

TAGS: list[dict[str, str]] = [
    {"name": "enterprises", "description": "检查对象名录库（企业）"},
    {"name": "inspectors", "description": "执法检查人员名录库"},
    {"name": "conflicts", "description": "回避关系"},
    {"name": "inspections", "description": "检查记录"},
    {"name": "reference", "description": "代码表"},
    {"name": "plans", "description": "抽查计划与模板"},
    {"name": "draws", "description": "抽查：冻结、种子、结果、撤销、证据包"},
    {"name": "outcomes", "description": "检查结果及公开"},
    {"name": "log", "description": "公开日志：检查点、条目、证明"},
    {"name": "tlog", "description": "公开日志（C2SP tlog-tiles）：检查点、瓦片、条目包"},
    {"name": "keys", "description": "API 密钥"},
    {"name": "ops", "description": "运行状态"},
]

# Titles of the problem answers by status, for the response descriptions.
_STATUS_TEXT = {
    400: "请求体无法解析",
    401: "未认证：缺少、无效、过期或已吊销的 API 密钥",
    403: "无权操作：该角色不能进行此操作",
    404: "未找到",
    409: "与现有数据或抽查状态冲突",
    413: "请求或文件过大",
    422: "输入数据不合规",
    500: "服务器内部错误",
    503: "暂不可用：服务未就绪或外部服务不可用",
}
# Only a route that demands a role answers these; a public one admits anyone.
_ROLE_ERRORS = frozenset({(401, "api_key_required"), (403, "role_not_allowed")})


def operation_id(route: APIRoute) -> str:
    """A route's operationId: explicit, stable, "<feature>_<action>"."""
    if route.name in OPERATION_IDS:
        return OPERATION_IDS[route.name]
    tag = str(route.tags[0]) if route.tags else "api"
    return route.name if route.name.startswith(f"{tag}_") else f"{tag}_{route.name}"


def route_errors(route: APIRoute) -> frozenset[ErrorCode]:
    """The error answers a route can give: those its code makes, and the
    framework's own (validation, body size, storage) where they apply."""
    found = set(errors_reached(*dependency_calls(route.dependant)))
    policy = policy_of(route.dependencies)
    if policy is not None:
        # The route admits its caller from the headers before anything else (app.routing).
        found |= errors_reached(type(policy).admit, type(policy).check)
    if policy is not None and policy.public:
        found -= _ROLE_ERRORS
    if _has_params(route.dependant):
        # A value the schemas let through but the database refuses (a NUL) is 422 too.
        found |= {(422, "invalid_input"), (422, "unstorable_value")}
    if _has_body(route):
        found.add((413, "payload_too_large"))
        if _is_form(route):
            found.add((400, "malformed_body"))
        else:
            # A JSON body is read before routing, and refused if it holds a lone surrogate.
            found |= {(422, "malformed_json"), (400, "lone_surrogate")}
    return frozenset(found)


def _has_params(dependant: Any) -> bool:
    return bool(
        dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or dependant.body_params
        or any(_has_params(d) for d in dependant.dependencies)
    )


def _has_body(route: APIRoute) -> bool:
    return route.body_field is not None


def _is_form(route: APIRoute) -> bool:
    return any(type(p.field_info).__name__ in ("File", "Form") for p in route.dependant.body_params)


def _roles_text(policy: Policy) -> str:
    if policy.public:
        return "公开：无需 API 密钥"
    return "需要 API 密钥，角色：" + "、".join(
        f"{ROLE_NAMES[r]}（{r.value}）" for r in sorted(policy.roles, key=lambda r: r.value)
    )


def _responses(errors: frozenset[ErrorCode]) -> dict[str, Any]:
    by_status: dict[int, list[str]] = defaultdict(list)
    for status, code in sorted(errors):
        by_status[status].append(code)
    return {
        str(status): {
            "description": f"{_STATUS_TEXT.get(status, '请求失败')}。code：{'、'.join(codes)}",
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "x-error-codes": codes,
        }
        for status, codes in sorted(by_status.items())
    }


def build_document(app: FastAPI) -> dict[str, Any]:
    """The application's OpenAPI document."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=TAGS,
    )
    for route in api_routes(app.routes):
        if not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = document["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            _complete(operation, route)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    _name_documented_fields(document, schemas)
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's, replaced by Problem
        schemas.pop(unused, None)
    return document


def _name_documented_fields(document: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Fields served as stored JSON (app.schemas.documented) refer to
    their named schema, which the components then hold."""
    _, defs = models_json_schema(
        [(model, "serialization") for model in DOCUMENTED.values()],
        ref_template="#/components/schemas/{model}",
    )
    for name, schema in defs.get("$defs", {}).items():
        schemas.setdefault(name, schema)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if NAMED_SCHEMA in node:
                return {"$ref": f"#/components/schemas/{node[NAMED_SCHEMA]}"}
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    document["paths"] = walk(document["paths"])
    schemas.update(walk(schemas))


def _complete(operation: dict[str, Any], route: APIRoute) -> None:
    responses = operation["responses"]
    # The framework's generic client errors give way to the real ones; a server
    # answer a route declares itself (a readiness probe's 503) stays.
    for status in [s for s in responses if s[0] == "4"]:
        del responses[status]
    responses.update(_responses(route_errors(route)))
    policy = policy_of(route.dependencies)
    if policy is None:  # pragma: no cover - create_app refuses such a route
        return
    operation["x-roles"] = [] if policy.public else sorted(r.value for r in policy.roles)
    operation["description"] = (
        (operation.get("description") or "").rstrip() + "\n\n" + _roles_text(policy)
    ).strip()
    if policy.public:
        # Anyone may call it; a key is optional (an auditor's shows more).
        operation["security"] = [{}, *operation.get("security", [])]


def install(app: FastAPI) -> None:
    """Serve `build_document` as /openapi.json, built once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
