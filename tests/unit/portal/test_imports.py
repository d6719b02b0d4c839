"""The portal package imports without circles: the factory imports the page modules, the page modules
import the helpers (request.py, owner.py, the *_text modules), and nothing imports back up. Every import
counts, a function's own included (a circle hidden in a function is still one)."""

from __future__ import annotations

import ast
from pathlib import Path

PORTAL = Path(__file__).resolve().parents[3] / "hotspot" / "portal"


def imports() -> dict[str, set[str]]:
    """Each module of hotspot.portal and the modules of hotspot.portal it imports."""
    names = {f.stem for f in PORTAL.glob("*.py") if f.stem != "__init__"}
    graph = {}
    for name in names:
        found = set()
        for node in ast.walk(ast.parse((PORTAL / f"{name}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "hotspot.portal":
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hotspot.portal."):
                found.add(node.module.split(".")[2])
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("hotspot.portal.")}
        graph[name] = found & names
    return graph


def circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `graph`, or None."""
    done: set[str] = set()

    def walk(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return path[path.index(name):] + [name]
        if name in done:
            return None
        for other in sorted(graph[name]):
            found = walk(other, path + [name])
            if found:
                return found
        done.add(name)
        return None

    return next(filter(None, (walk(n, []) for n in sorted(graph))), None)


def test_the_portal_imports_without_circles():
    graph = imports()
    assert {"app", "request", "owner", "admin", "plan", "history"} <= set(graph)
    assert circle(graph) is None, " -> ".join(circle(graph))
    assert circle({**graph, "request": graph["request"] | {"admin"}}) is not None  # a circle is seen


def test_only_the_factory_and_wsgi_import_the_factory():
    assert {name for name, deps in imports().items() if "app" in deps} == {"wsgi"}
