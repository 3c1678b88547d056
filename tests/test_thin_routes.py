"""A route or a command is at most ~15 lines: parse, call one use case, serialise
(docs/CONTRACT.md §0). Every Flask view under service/api and every click command under
service/commands is measured here (body lines after the docstring); a longer one moves its
parsing to service/api/params.py and its work to service/usecases/."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICE = Path(__file__).resolve().parent.parent / "service"
MAX_LINES = 20
#: "module:function" -> (allowed lines, why). Keep this short and every reason true.
EXCEPTIONS: dict[str, tuple[int, str]] = {
}

_ROUTE = {"route", "get", "post", "put", "patch", "delete"}
_COMMAND = {"command", "group"}


def _decorated(fn: ast.FunctionDef, names: set[str]) -> bool:
    for d in fn.decorator_list:
        f = d.func if isinstance(d, ast.Call) else d
        if isinstance(f, ast.Attribute) and f.attr in names:
            return True
    return False


def _url_rule_views(tree: ast.Module) -> set[str]:
    """Functions registered with ``add_url_rule(rule, endpoint, view)`` (also wrapped)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "add_url_rule":
            for arg in [*node.args[2:], *(k.value for k in node.keywords
                                          if k.arg == "view_func")]:
                out |= {n.id for n in ast.walk(arg) if isinstance(n, ast.Name)}
    return out


def body_lines(fn: ast.FunctionDef) -> int:
    """Lines of the body, its docstring left out (decorators and signature too)."""
    body = fn.body
    if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return (body[-1].end_lineno or body[-1].lineno) - body[0].lineno + 1


def handlers(package: str) -> dict[str, int]:
    """``module:function`` -> body lines of every view (api) or command (commands)."""
    names = _ROUTE if package == "api" else _COMMAND
    out = {}
    for path in sorted((SERVICE / package).glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        registered = _url_rule_views(tree) if package == "api" else set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (
                    _decorated(node, names) or node.name in registered):
                out[f"{path.stem}:{node.name}"] = body_lines(node)
    return out


def test_routes_and_commands_are_thin():
    found = {**handlers("api"), **handlers("commands")}
    assert len(found) > 80  # the walk sees the routes and commands (not an empty pass)
    long = {k: n for k, n in found.items()
            if n > EXCEPTIONS.get(k, (MAX_LINES, ""))[0]}
    assert not long, (f"routes/commands over {MAX_LINES} lines: parse in service/api/params.py, "
                      f"work in service/usecases/: {long}")


def test_every_exception_is_still_needed():
    found = {**handlers("api"), **handlers("commands")}
    stale = [k for k, (n, _why) in EXCEPTIONS.items() if found.get(k, 0) <= MAX_LINES]
    assert not stale, f"no longer long (or gone): remove from EXCEPTIONS: {stale}"


def test_the_measure_sees_views_commands_and_url_rules(tmp_path):
    api = tmp_path / "v.py"
    api.write_text('@bp.get("/x")\ndef view():\n    """Doc."""\n    a = 1\n    return a\n\n'
                   'def _sheet():\n    return 1\n\n'
                   'bp.add_url_rule("/s", "s", allow_large_body(_sheet), methods=["POST"])\n'
                   '@click.command("c")\n@click.option("--n")\ndef command(n):\n'
                   '    print(n)\n    print(n)\n    print(n)\n')
    tree = ast.parse(api.read_text())
    fns = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert _decorated(fns["view"], _ROUTE) and body_lines(fns["view"]) == 2
    assert _url_rule_views(tree) >= {"_sheet"}
    assert _decorated(fns["command"], _COMMAND) and body_lines(fns["command"]) == 3


#: a route may call a private helper of its module (a body builder for the response cache,
#: a form parser); helpers too stay small, so no route hides a computation one call away
MAX_HELPER_LINES = 35


def test_no_helper_in_the_web_or_command_layer_holds_a_computation():
    long = {}
    for package in ("api", "commands"):
        for path in sorted((SERVICE / package).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) \
                        and body_lines(node) > MAX_HELPER_LINES:
                    long[f"{package}/{path.stem}:{node.name}"] = body_lines(node)
    assert not long, f"move these to service/usecases (or split them): {long}"
