"""One translation of domain errors for every command (service.cli.LazyGroup): a
ChipaoError ends a command with one Thai/English line and exit status 1, no traceback; no
command catches ChipaoError itself."""

from __future__ import annotations

import ast
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from service import errors
from service.cli import DomainError, main

COMMANDS = Path(__file__).resolve().parent.parent / "service" / "commands"
DOMAIN = {name for name, obj in vars(errors).items()
          if isinstance(obj, type) and issubclass(obj, errors.ChipaoError)}


def test_a_command_error_is_one_thai_and_english_line(tmp_path):
    env = {"CHIPAO_DATA_DIR": str(tmp_path / "var")}
    res = CliRunner().invoke(main, ["users", "create", "ann", "--role", "provincial",
                                    "--no-password"], env=env)
    assert res.exit_code == errors.EXIT_STATUS == 1
    assert isinstance(res.exception, SystemExit)  # click's exit, not an escaped exception
    last = res.output.strip().splitlines()[-1]
    assert last.startswith("ข้อมูลไม่ถูกต้อง · Invalid input: column province:"), last
    assert "Traceback" not in res.output
    res = CliRunner().invoke(main, ["users", "revoke", "12345"], env=env)
    assert res.exit_code == 1
    assert res.output.strip().splitlines()[-1].startswith("ไม่พบข้อมูล · Not found:")


@pytest.mark.parametrize("cls", [errors.InvalidInput, errors.NotFound, errors.Forbidden,
                                 errors.Conflict, errors.ChipaoError])
def test_every_domain_error_has_a_thai_title(cls):
    exc = cls("x")
    assert any("\u0e00" <= ch <= "\u0e7f" for ch in exc.title_th)
    assert errors.headline(exc) == f"{exc.title_th} · {exc.title}: x"
    assert isinstance(DomainError(exc), click.ClickException)


def test_no_command_translates_domain_errors_itself():
    bad = []
    for path in sorted(COMMANDS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                names = {n.id if isinstance(n, ast.Name) else getattr(n, "attr", "")
                         for n in ast.walk(node.type) if isinstance(n, ast.Name | ast.Attribute)}
                if names & DOMAIN:
                    bad.append(f"{path.name}:{node.lineno}")
    assert not bad, f"let service.cli.LazyGroup translate ChipaoError: {bad}"
