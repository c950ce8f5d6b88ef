"""The layers of ARCHITECTURE.md, read from the code's own imports: plumbing knows no
feature, a router imports no other feature's router, no router signs checkpoints, the
pure cores import nothing of the service, and no module grows past 600 lines."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"

FEATURES = ("app.draws", "app.pools", "app.public", "app.ledger", "app.witness")
# Knows no feature: the database, the request's way through the service, errors, types,
# access control, history, files, operations. (main, cli, models and openapi assemble
# the features, and stand above them.)
PLUMBING = (
    "app.access",
    "app.admission",
    "app.bulk",
    "app.config",
    "app.db",
    "app.deps",
    "app.downloads",
    "app.error_catalog",
    "app.errors",
    "app.history",
    "app.idempotency",
    "app.limits",
    "app.migrate",
    "app.observability",
    "app.reference",
    "app.routing",
    "app.schemas",
    "app.server",
    "app.text",
    "app.types",
    "app.validation",
)
PURE = ("app.algorithm", "app.ledger.merkle", "app.ledger.tiles")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(APP.rglob("*.py"))}


def _imports(path: Path) -> set[str]:
    """Every module of the app that the file imports, at its top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "app" or name.startswith("app.")}


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _is_router(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last in ("router", "transfer", "exports") or last.endswith(("_router", "_routes"))


def _feature(name: str) -> str:
    return ".".join(name.split(".")[:2])


def test_plumbing_imports_no_feature() -> None:
    broken = {
        (name, imported)
        for name, path in _modules().items()
        if _within(name, PLUMBING)
        for imported in _imports(path)
        if _within(imported, FEATURES)
    }
    assert broken == set()


def test_a_router_imports_no_other_features_router() -> None:
    modules = _modules()
    routers = {name for name in modules if _is_router(name)}
    found = {
        (name, imported)
        for name in routers
        for imported in _imports(modules[name])
        if imported in routers and _feature(imported) != _feature(name)
    }
    assert found == set()


def test_checkpoints_are_signed_in_one_place() -> None:
    """After each commit that grew the log (the ledger's hook) and as the service
    starts: no router, page or bundle signs, they read the latest checkpoint."""
    signing = re.compile(r"\b(sign_checkpoint|sign_pending)\(")
    found = {
        name
        for name, path in _modules().items()
        if signing.search(path.read_text(encoding="utf-8"))
    }
    assert found == {"app.ledger.store", "app.main"}


def test_the_pure_cores_import_nothing_of_the_service() -> None:
    broken = {
        (name, imported)
        for name, path in _modules().items()
        if _within(name, PURE)
        for imported in _imports(path)
        if not _within(imported, PURE)
    }
    assert broken == set()
    verifier = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "verifier").rglob("*.py")
        if any(n == "app" or n.startswith("app.") for n in _imports(path))
    }
    assert verifier == set()


def test_no_module_is_over_600_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in sorted(APP.rglob("*.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert long == {}


def test_every_file_architecture_names_exists() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:app|verifier|tests|migrations)/[\w/.]+?\.(?:py|html|md))`", text))
    assert len(named) > 20
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert missing == []
