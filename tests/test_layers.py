"""The layering rules of docs/CONTRACT.md: the core, access, use cases and rendering never
import the web or command-line frameworks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parent.parent / "service"
PURE = ("geo", "analysis", "store", "access", "usecases", "render", "ingest", "export")
FRAMEWORKS = ("flask", "flask_limiter", "werkzeug", "click")
#: exception: password hashing (a function of werkzeug, no web)
ALLOWED = {"store": ("werkzeug.security",)}


def imported(path: Path) -> set[str]:
    """Top-level module names imported anywhere in a file (also inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", PURE)
def test_pure_packages_import_no_framework(package):
    bad = []
    for path in sorted((SERVICE / package).rglob("*.py")):
        for name in imported(path):
            if name in ALLOWED.get(package, ()):
                continue
            if name.split(".")[0] in FRAMEWORKS or name.startswith(("service.api",
                                                                     "service.commands")):
                bad.append(f"{path.relative_to(SERVICE)}: {name}")
    assert not bad, bad


def test_the_check_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("def f():\n    from flask import request\n    import click\n")
    assert {"flask", "click"} <= imported(sample)


def test_the_web_layer_imports_nothing_from_the_commands():
    bad = [f"{path.relative_to(SERVICE)}: {name}"
           for path in sorted((SERVICE / "api").rglob("*.py")) for name in imported(path)
           if name.startswith("service.commands")]
    assert not bad, bad


def test_app_state_lives_only_in_services():
    """One owner of app state: no module keeps its own entry in ``app.extensions``."""
    bad = []
    for path in sorted(SERVICE.rglob("*.py")):
        if path.name == "services.py":
            continue
        text = path.read_text(encoding="utf-8")
        if "extensions[" in text or "extensions.get(" in text or "extensions.setdefault(" in text:
            bad.append(str(path.relative_to(SERVICE)))
    assert not bad, bad
