"""Settings are read as typed attributes (``settings.data_dir``), never by string key
(``settings["data_dir"]``): a typo in a key is a KeyError at run time, a typo in an attribute
is a mypy error before it ships (issue #11)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SERVICE = Path(__file__).resolve().parent.parent / "service"

#: a dotted name or call that holds the settings: settings, s.settings, settings(),
#: settings_from_env(), load_settings(...), app.config["CHIPAO"]
_HOLDER = re.compile(r"(^|\.)(settings|settings_from_env|load_settings|as_settings)(\(\))?$")


def _holder(node: ast.expr) -> bool:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Subscript):  # app.config["CHIPAO"]
        return isinstance(node.slice, ast.Constant) and node.slice.value == "CHIPAO"
    try:
        text = ast.unparse(node)
    except Exception:  # pragma: no cover - every expression unparses
        return False
    return bool(_HOLDER.search(text))


def keyed_reads(source: str) -> list[str]:
    """``settings["x"]`` and ``settings.get("x")`` reads in ``source`` (line: code)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        keyed = (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
                 and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)
                 and node.slice.value != "CHIPAO" and _holder(node.value))
        got = (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and node.func.attr == "get" and _holder(node.func.value))
        if keyed or got:
            out.append(f"{node.lineno}: {ast.unparse(node)}")
    return out


def test_no_setting_is_read_by_string_key():
    bad = []
    for path in sorted(SERVICE.rglob("*.py")):
        if path == SERVICE / "settings.py":  # the mapping protocol itself
            continue
        text = path.read_text(encoding="utf-8")
        bad += [f"{path.relative_to(SERVICE)}:{hit}" for hit in keyed_reads(text)]
        # the plain-text spellings too (also inside f-strings, which ast sees as one node)
        for n, line in enumerate(text.splitlines(), 1):
            if re.search(r"""settings(\(\))?\[['"]|\.settings\[|\["CHIPAO"\]\[""", line):
                bad.append(f"{path.relative_to(SERVICE)}:{n}: {line.strip()}")
    assert not bad, "read settings as attributes (settings.name):\n" + "\n".join(bad)


def test_the_check_finds_every_spelling():
    sample = '''
a = settings["data_dir"]
b = s.settings["boundaries_dir"]
c = settings()["default_dataset"]
d = current_app.config["CHIPAO"]["port"]
e = settings_from_env()["database_url"]
f = services().settings.get("job_workers", 2)
ok = settings.data_dir
fine = frame["data_dir"]
'''
    hits = keyed_reads(sample)
    assert [h.split(":")[0] for h in hits] == ["2", "3", "4", "5", "6", "7"], hits
