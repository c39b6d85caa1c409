"""The layout's one-way rule, read from the source with `ast`:

    app, features, bootstrap  ->  feature api  ->  feature service  ->  identity, store, core, domain
                                        \\->  http  ->  identity  ->  store  ->  core  ->  domain

A feature (a package under chalicelib/platform or chalicelib/chat, and the identity
routes in chalicelib/identity/api.py) never imports another feature; only its api module
may import http; nothing imports a feature's api but the top level. Nothing in chalicelib
imports bench, scripts, local or tests, and no module imports itself through a circle
(bench, scripts and the local runner included). Imports inside functions count too."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["app.py", "chalicelib", "bench", "scripts", "local", "testing"]
LOWER = {  # layer -> layers it may import (besides itself)
    "domain": set(),
    "core": {"domain"},
    "store": {"core", "domain"},
    "identity": {"store", "core", "domain"},
    "http": {"identity", "store", "core", "domain"},
    "service": {"identity", "store", "core", "domain"},
    "api": {"http", "identity", "store", "core", "domain"},
}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    found = {}
    for source in SOURCES:
        base = ROOT / source
        for path in ([base] if base.is_file() else sorted(base.rglob("*.py"))):
            found[module_name(path)] = path
    return found


MODULES = all_modules()


def imports_of(name: str) -> set[str]:
    """Our modules that `name` imports (a package's module when a name is one)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                       for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


GRAPH = {name: imports_of(name) for name in MODULES}


def place(name: str) -> tuple[str, str | None]:
    """(layer, feature) of a chalicelib module; ("top", None) for everything above."""
    parts = name.split(".")
    if parts[0] != "chalicelib" or len(parts) < 2:
        return "top", None
    if parts[1] in ("platform", "chat") and len(parts) >= 3:
        return ("api" if parts[-1] == "api" else "service"), ".".join(parts[:3])
    if name == "chalicelib.identity.api":
        return "api", name
    if parts[1] in ("domain", "core", "store", "identity", "http"):
        return parts[1], None
    return "top", None


def test_the_walk_sees_the_whole_tree():
    assert "chalicelib.platform.keys.service" in MODULES and "bench.run" in MODULES
    assert "chalicelib.core.clock" in GRAPH["chalicelib.platform.keys.service"]


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("chalicelib")))
def test_imports_run_one_way(name):
    layer, feature = place(name)
    wrong = []
    for target in sorted(GRAPH[name]):
        if not target.startswith("chalicelib"):
            wrong.append(f"{target} (outside chalicelib)")
            continue
        t_layer, t_feature = place(target)
        if t_layer == "top" and target != "chalicelib":
            if layer != "top":
                wrong.append(f"{target} (top level)")
        elif layer == "top":
            continue
        elif t_feature is not None:
            if t_feature != feature:
                wrong.append(f"{target} (another feature)")
            elif t_layer == "api" and layer != "api":
                wrong.append(f"{target} (a service imports its api)")
        elif t_layer != layer and t_layer not in LOWER[layer]:
            wrong.append(f"{target} ({layer} may not import {t_layer})")
    assert not wrong, f"{name} imports " + "; ".join(wrong)


def test_no_import_circles():
    """Tarjan's strongly connected components: any component of two or more is a circle."""
    index, low, on_stack, stack, circles = {}, {}, set(), [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for name in sorted(GRAPH):
        if name not in index:
            visit(name)
    assert not circles, circles


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("chalicelib.domain")))
def test_domain_modules_do_no_io(name):
    """Pure code: the standard library, jsonschema and other domain modules only (no AWS
    SDK, no PynamoDB, no Chalice), so every domain function is testable without moto."""
    import sys
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    outside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module]
        else:
            continue
        for module in names:
            top = module.split(".")[0]
            if top not in sys.stdlib_module_names and top != "jsonschema" and not (
                    module.startswith("chalicelib.domain")):
                outside.add(module)
    assert not outside, f"{name} imports {sorted(outside)}"


def test_every_error_raised_is_in_the_registry():
    """AppError("NAME") with a name the registry lacks would itself crash into a 500."""
    from chalicelib.core.errors import KINDS
    raised = set()
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "AppError"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                raised.add(node.args[0].value)
    assert raised and not raised - set(KINDS), sorted(raised - set(KINDS))
