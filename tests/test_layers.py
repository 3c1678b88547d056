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


def _package(path: Path) -> list[str]:
    """The dotted package of a file under service/ (for relative imports)."""
    parts = ["service", *path.resolve().relative_to(SERVICE).parts[:-1]]
    return parts


def imported(path: Path, *, runtime_only: bool = False,
             package: list[str] | None = None) -> set[str]:
    """Module names imported anywhere in a file (also inside functions; relative imports
    resolved against the file's package). ``runtime_only`` leaves out ``if TYPE_CHECKING:``
    blocks, which are never imported when the program runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level:
            pkg = package if package is not None else _package(path)
            base = pkg[:len(pkg) - node.level + 1]
            names.add(".".join([*base, *([node.module] if node.module else [])]))
        elif isinstance(node, ast.ImportFrom) and node.module:
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


def test_the_core_modules_beside_the_packages_import_no_framework_at_run_time():
    """settings, errors, vocabulary, lru and services are used by commands and the core:
    type-only imports (``if TYPE_CHECKING:``) of flask are allowed, nothing else."""
    bad = [f"{name}: {mod}" for name in ("settings.py", "errors.py", "vocabulary.py", "lru.py",
                                         "services.py")
           for mod in imported(SERVICE / name, runtime_only=True)
           if mod.split(".")[0] in FRAMEWORKS or mod.startswith(("service.api",
                                                                  "service.commands"))]
    assert not bad, bad


def test_the_check_resolves_relative_and_skips_type_only_imports(tmp_path):
    sample = tmp_path / "probe.py"  # as if it were service/api/probe.py
    sample.write_text("from typing import TYPE_CHECKING\nfrom ..commands import rank\n"
                      "from . import params\nif TYPE_CHECKING:\n    import flask\n")
    api = ["service", "api"]
    assert {"service.commands", "service.api"} <= imported(sample, package=api)
    assert "flask" in imported(sample, package=api)
    assert "flask" not in imported(sample, runtime_only=True, package=api)


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


def test_the_contract_describes_the_layout_as_it_is():
    """docs/CONTRACT.md §0 names every package and top-level module of service/."""
    text = (SERVICE.parent / "docs" / "CONTRACT.md").read_text(encoding="utf-8")
    layout = text[text.index("## 0. Layout"):text.index("## 1. ")]
    names = [f"{p.name}/" for p in SERVICE.iterdir()
             if p.is_dir() and (p / "__init__.py").exists() and not p.name.startswith("_")]
    names += [p.name for p in SERVICE.glob("*.py") if p.name != "__init__.py"]
    missing = [n for n in sorted(names) if n not in layout]
    assert not missing, f"docs/CONTRACT.md §0 does not name: {missing}"


def test_one_problem_document():
    """problem+json bodies are built by service.errors.problem_body only (upload.py,
    cases.py and published.py once built their own)."""
    bad = [str(p.relative_to(SERVICE)) for p in sorted(SERVICE.rglob("*.py"))
           if p != SERVICE / "errors.py" and '"about:blank"' in p.read_text(encoding="utf-8")]
    assert not bad, bad
