"""Which errors each route can answer, read from the code itself.

Every error a client sees is a DomainError subclass made somewhere a route's
endpoint or dependencies reach: this walks that code (the functions of the
`app` package it calls or passes on, transitively) and collects each error
class constructed and the stable `code` it is given. The OpenAPI document
lists exactly these per operation, so the document cannot drift from the code;
the test suite checks the other direction, that every error answer a test
provokes is one the document lists for its operation.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from functools import cache
from types import FunctionType, ModuleType
from typing import Any

from fastapi.dependencies.models import Dependant

from app.errors import DomainError, Problem

ErrorCode = tuple[int, str]  # (HTTP status, stable code)


def _function_of(value: Any) -> FunctionType | None:
    """The plain function behind a value, if it is one of this package's."""
    if inspect.ismethod(value):
        value = value.__func__
    if isinstance(value, staticmethod | classmethod):
        value = value.__func__
    if not isinstance(value, FunctionType):
        # A dependency object (a Policy): its class's __call__.
        call = type(value).__dict__.get("__call__")
        if isinstance(call, FunctionType) and type(value).__module__.startswith("app."):
            return call
        return None
    value = inspect.unwrap(value)
    module = getattr(value, "__module__", "") or ""
    return value if module == "app" or module.startswith("app.") else None


def _methods(value: Any) -> list[FunctionType]:
    """The functions of a class of this package (its methods, properties)."""
    if not isinstance(value, type) or not value.__module__.startswith("app."):
        return []
    found = []
    for member in vars(value).values():
        if isinstance(member, property):
            member = member.fget
        function = _function_of(member)
        if function is not None:
            found.append(function)
    return found


def _reachable_methods(value: Any) -> list[FunctionType]:
    """The package's methods that a class, an instance or a dict of instances offers."""
    members = list(value.values()) if isinstance(value, dict) else [value]
    found: list[FunctionType] = []
    for member in members:
        found += _methods(member if isinstance(member, type) else type(member))
    return found


def _error_class(value: Any) -> type[DomainError] | None:
    if isinstance(value, type) and issubclass(value, DomainError):
        return value
    return None


def _resolve(node: ast.expr, scope: dict[str, Any]) -> Any:
    """The object a name or dotted name denotes in `scope`, or None."""
    if isinstance(node, ast.Name):
        return scope.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, scope)
        if isinstance(owner, ModuleType | type):
            return getattr(owner, node.attr, None)
    return None


def _scope(function: FunctionType) -> dict[str, Any]:
    names = dict(function.__globals__)
    if function.__closure__:
        names.update(inspect.getclosurevars(function).nonlocals)
    return names


def _constant(call: ast.Call, name: str) -> object:
    for keyword in call.keywords:
        if keyword.arg == name and isinstance(keyword.value, ast.Constant):
            return keyword.value.value
    return None


def _constant_code(call: ast.Call) -> str | None:
    code = _constant(call, "code")
    return None if code is None else str(code)


@cache
def _direct(function: FunctionType) -> tuple[frozenset[ErrorCode], tuple[FunctionType, ...]]:
    """The errors a function makes itself, and the package's functions it reaches."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):  # pragma: no cover - no source to read
        return frozenset(), ()
    scope = _scope(function)
    errors: set[ErrorCode] = set()
    reached: list[FunctionType] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            called = _resolve(node.func, scope)
            error = _error_class(called)
            if error is not None:
                errors.add((error.status, _constant_code(node) or error.code))
                continue
            if called is Problem:  # a problem answered directly, as /readyz does
                status = _constant(node, "status")
                code = _constant(node, "code")
                if isinstance(status, int) and isinstance(code, str):
                    errors.add((status, code))
        if isinstance(node, ast.Name | ast.Attribute):
            value = _resolve(node, scope)
            target = _function_of(value)
            if target is not None and target is not function:
                reached.append(target)
            elif _error_class(value) is None:
                # A class of the package, or an instance of one, or a registry of
                # such instances (the seed sources): their methods may be called.
                reached.extend(_reachable_methods(value))
    return frozenset(errors), tuple(dict.fromkeys(reached))


def errors_reached(*functions: Callable[..., Any]) -> frozenset[ErrorCode]:
    """Every error the functions, and all they reach, can make."""
    seen: set[FunctionType] = set()
    found: set[ErrorCode] = set()
    pending = [f for f in map(_function_of, functions) if f is not None]
    while pending:
        function = pending.pop()
        if function in seen:
            continue
        seen.add(function)
        errors, reached = _direct(function)
        found |= errors
        pending.extend(reached)
    return frozenset(found)


def dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """The endpoint and every dependency of a route, depth first."""
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from dependency_calls(sub)
