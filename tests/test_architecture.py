"""The package layering the README's architecture section draws, checked on every import.

Every ``import`` in src/alphawire is read (module level and inside functions, TYPE_CHECKING
blocks included: a type-only import still couples two packages) and held to the rules below.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import alphawire

SRC = Path(alphawire.__file__).resolve().parent

CORE = ("hub", "brokers", "alerting", "sources", "agents", "analytics")
WEB_FRAMEWORKS = ("fastapi", "starlette", "uvicorn")
# Modules every layer may use: they import no alphawire package themselves.
NEUTRAL = (
    "channels",
    "clock",
    "errors",
    "ids",
    "messages",
    "paths",
    "protocol",
    "publishing",
    "results",
    "supervisor",
    "auth",
)


def unit_of(module: str) -> str:
    """`alphawire.hub.registry` -> `hub`; `alphawire.node` -> `node`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "alphawire"


def imports() -> dict[str, set[str]]:
    """Every alphawire module and the absolute names it imports."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        module = ".".join(parts)
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolve against the package
                    base = parts[: len(parts) - node.level + (path.name == "__init__.py")]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                names.add(target)
                names.update(f"{target}.{alias.name}" for alias in node.names)
        found[module] = names
    return found


IMPORTS = imports()
# The command line: alphawire.cli and its command modules (cli_server, cli_hub, ...).
CLI = tuple(sorted(m for m in IMPORTS if m == "alphawire.cli" or m.startswith("alphawire.cli_")))


def violations(units: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for module, names in sorted(IMPORTS.items()):
        if unit_of(module) not in units:
            continue
        for name in sorted(names):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                out.append(f"{module} imports {name}")
    return out


def test_the_core_imports_nothing_of_the_web_layer_or_web_frameworks() -> None:
    """hub, brokers, alerting, sources, agents and analytics never import alphawire.web,
    the CLI, or FastAPI/Starlette/uvicorn."""
    assert "alphawire.cli_config" in CLI and "alphawire.client" not in CLI
    forbidden = ("alphawire.web", *CLI, *WEB_FRAMEWORKS)
    assert violations(CORE, forbidden) == []


def test_only_the_web_layer_and_entry_points_import_web_frameworks() -> None:
    """Outside alphawire.web (and the CLI that starts it), no module imports a web framework."""
    # alphawire/__init__ re-exports create_app lazily
    allowed = ("web", "alphawire", *(unit_of(m) for m in CLI))
    others = tuple(sorted({unit_of(m) for m in IMPORTS} - set(allowed)))
    assert violations(others, WEB_FRAMEWORKS) == []


def test_brokers_and_alerting_do_not_import_the_hub() -> None:
    """brokers/ and alerting/ sit below hub/: shared values live in neutral modules."""
    assert violations(("brokers", "alerting"), ("alphawire.hub", "alphawire.node")) == []


def test_neutral_modules_import_no_package() -> None:
    """The neutral modules (messages, errors, results, clock, ...) depend on no package."""
    packages = tuple(
        f"alphawire.{p}"
        for p in (*CORE, "web", "node", "config", "settings", "plugins", "calendar")
    )
    packages += CLI
    assert violations(NEUTRAL, packages) == []


def test_analytics_is_pure() -> None:
    """analytics/ does no I/O and no asyncio, and imports nothing of alphawire but itself
    and the neutral modules (its errors are alphawire's ValidationError)."""
    io = ("asyncio", "httpx", "socket", "sqlite3", "subprocess", "requests", "urllib")
    others = tuple(
        f"alphawire.{p}" for p in sorted({unit_of(m) for m in IMPORTS} - {"analytics", *NEUTRAL})
    )
    assert violations(("analytics",), (*io, *others)) == []


def test_sources_and_agents_use_the_node_s_ports_not_hub_internals() -> None:
    """sources/ and agents/ read and publish through ports; of hub/ they may name only the
    in-process subscription type, and they never reach the brokers or the node itself."""
    found = violations(
        ("sources", "agents"), ("alphawire.hub", "alphawire.brokers", "alphawire.node")
    )
    assert [v for v in found if "alphawire.hub.local" not in v] == []


def test_no_cycles_between_packages() -> None:
    """The package graph is acyclic (a module may import within its own package freely)."""
    graph: dict[str, set[str]] = {}
    for module, names in IMPORTS.items():
        here = unit_of(module)
        for name in names:
            if name.startswith("alphawire."):
                there = unit_of(name)
                if there != here and there not in NEUTRAL and here not in NEUTRAL:
                    graph.setdefault(here, set()).add(there)
    # The package's __init__ re-exports lazily; it is the top, not part of the layering.
    graph.pop("alphawire", None)
    cycles: list[list[str]] = []

    def visit(unit: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(unit, ())):
            if nxt in path:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif len(path) < 12:
                visit(nxt, [*path, nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert cycles == []


def test_public_api_all_is_sorted_and_importable() -> None:
    """alphawire.__all__ is sorted, and every name in it resolves to an object."""
    assert alphawire.__all__ == sorted(alphawire.__all__)
    for name in alphawire.__all__:
        assert getattr(alphawire, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = alphawire.Nope  # type: ignore[attr-defined]


def test_the_public_names_are_the_ones_their_modules_define() -> None:
    """Each lazily exported name is the very object of its home module."""
    for name, module in alphawire._EXPORTS.items():
        assert getattr(alphawire, name) is getattr(importlib.import_module(module), name)
