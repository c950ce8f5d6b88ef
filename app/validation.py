"""Request validation errors as a person acts on them.

FastAPI reports every member of a union body: a short dice entry also "misses"
the drand beacon's three fields. Only the member the body was meant as is
reported (the one it comes closest to), under its plain field path, each
problem in Chinese with the rule it breaks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from app.errors import PROBLEM_JSON, Problem, ProblemItem, chinese_message, error_code

# How Pydantic names a model member of a union in an error's location.
_MEMBER = re.compile(r"^[A-Z][A-Za-z0-9]*$")
# Errors that say the body was meant as another member, not that this one is wrong.
_MISFIT = frozenset({"missing", "extra_forbidden", "model_type", "model_attributes_type"})


def _member_at(loc: Sequence[Any]) -> int | None:
    """Where a union member's name is in `loc`, if anywhere."""
    for index, part in enumerate(loc):
        if isinstance(part, str) and _MEMBER.match(part):
            return index
    return None


def chosen_member_errors(errors: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The errors of the union member each body comes closest to, with the
    member's name taken out of their locations; other errors unchanged.

    >>> errs = [
    ...     {"loc": ("body", "Dice", "digits"), "type": "string_too_short"},
    ...     {"loc": ("body", "Beacon", "round"), "type": "missing"},
    ...     {"loc": ("body", "Beacon", "digits"), "type": "extra_forbidden"},
    ... ]
    >>> [e["loc"] for e in chosen_member_errors(errs)]
    [('body', 'digits')]
    """
    # union site (the location before the member) -> member -> its errors
    sites: dict[tuple[Any, ...], dict[str, list[dict[str, Any]]]] = {}
    # each error not in a union, or the site of a union, in the order first met
    order: list[tuple[tuple[Any, ...] | None, dict[str, Any]]] = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        at = _member_at(loc)
        if at is None:
            order.append((None, error))
            continue
        site = loc[:at]
        if site not in sites:
            order.append((site, error))
        sites.setdefault(site, {}).setdefault(str(loc[at]), []).append(error)
    result: list[dict[str, Any]] = []
    for place, error in order:
        if place is None:
            result.append(error)
            continue
        members = sites[place]
        if len(members) == 1:  # not a union's members: a capitalised key, say
            result.extend(next(iter(members.values())))
            continue
        best = min(
            members.values(),
            key=lambda errs: (sum(e.get("type") in _MISFIT for e in errs), len(errs)),
        )
        at = len(place)
        result.extend({**e, "loc": tuple(e["loc"])[:at] + tuple(e["loc"])[at + 1 :]} for e in best)
    return result


def _shown(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value)
    text = text if len(text) <= 200 else text[:200] + "…"
    # What cannot be encoded (a lone surrogate) is shown escaped, never sent raw.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _where(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header") and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)


def validation_problem(errors: Sequence[dict[str, Any]]) -> Problem:
    """A request's validation errors as one problem document."""
    items = [
        ProblemItem(
            loc=[p if isinstance(p, int) else str(p) for p in err.get("loc", ())],
            message=chinese_message(err),
            code=error_code(err),
            value=_shown(err.get("input")),
        )
        for err in chosen_member_errors(errors)
    ]
    if any(i.code == "json_invalid" for i in items):
        return Problem(
            type="urn:shuangsui:error:malformed_json",
            status=422,
            code="malformed_json",
            title="请求体不是合法的 JSON",
            detail="请求体不是合法的 JSON，请检查引号、逗号和括号",
            errors=items,
        )
    where = "；".join(f"{_where(i.loc)}：{i.message}" for i in items[:5])
    detail = f"{where}" if len(items) == 1 else f"请求中有 {len(items)} 处问题：{where}"
    return Problem(
        type="urn:shuangsui:error:invalid_input",
        status=422,
        code="invalid_input",
        title="输入数据不合规",
        detail=detail,
        errors=items,
    )


__all__ = ["PROBLEM_JSON", "chosen_member_errors", "validation_problem"]
