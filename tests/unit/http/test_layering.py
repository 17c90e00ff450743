"""dihub.http is the shared floor: its modules import each other one way, and it names
no upstream (a connector brings its paging and rate-limit policy)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import dihub.http

HTTP = Path(dihub.http.__file__).parent


def _imports(path: Path) -> set[str]:
    """The dihub.http modules `path` imports (also under TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "dihub.http":
                found.update(a.name for a in node.names)
            elif node.module.startswith("dihub.http."):
                found.add(node.module.split(".")[2])
    return found & {p.stem for p in HTTP.glob("*.py")}


def test_http_modules_import_each_other_one_way():
    graph = {p.stem: _imports(p) for p in HTTP.glob("*.py") if p.stem != "__init__"}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False
    assert [m for m in graph if reaches(m, m, set())] == []


def test_http_names_no_upstream():
    vendor = re.compile(r"github|jira|slack|atlassian", re.IGNORECASE)
    hits = [f"{p.name}:{n}" for p in HTTP.glob("*.py")
            for n, line in enumerate(p.read_text().splitlines(), 1) if vendor.search(line)]
    assert hits == []
