"""The ``chipao`` command. Sub-commands live in service/commands/<name>.py (each exposes
``command``) and are imported only when used, so ``chipao --help`` stays fast."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Any

import click

from service.errors import EXIT_STATUS, ChipaoError, headline

#: command name -> module under service.commands
COMMANDS = {
    "info": "info",
    "demo-data": "demo_data",
    "demo-raster": "demo_raster",
    "demo": "demo",
    "serve": "serve",
    "mpi": "mpi",
    "ingest": "ingest",
    "import-tpmap": "import_tpmap",
    "aggregate": "aggregate",
    "rank": "rank",
    "select": "select",
    "export": "export",
    "users": "users",
    "bench": "bench",
    "datasets": "datasets",
    "db": "db",
    "followup": "followup",
    "maps": "maps",
}


class DomainError(click.ClickException):
    """A :class:`service.errors.ChipaoError` as a command's end: one line in Thai and
    English on standard error (``ข้อมูลไม่ถูกต้อง · Invalid input: file x, row 3, column
    age: …``), exit status ``errors.EXIT_STATUS`` (1), never a traceback."""

    exit_code = EXIT_STATUS

    def __init__(self, exc: ChipaoError) -> None:
        super().__init__(headline(exc))

    def show(self, file: Any = None) -> None:
        click.echo(self.format_message(), file=file, err=file is None)


class LazyGroup(click.Group):
    """Sub-commands imported when used; the ONE translation of domain errors: a
    :class:`service.errors.ChipaoError` raised by any command (or a use case it calls) ends
    the command with :class:`DomainError`. Commands never catch ChipaoError themselves
    (tests/test_cli_errors.py)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ChipaoError as exc:
            raise DomainError(exc) from exc

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = []
        for name, mod in COMMANDS.items():
            if importlib.util.find_spec(f"service.commands.{mod}") is not None:
                names.append(name)
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        mod = COMMANDS.get(cmd_name)
        if mod is None or importlib.util.find_spec(f"service.commands.{mod}") is None:
            return None
        return importlib.import_module(f"service.commands.{mod}").command


@click.group(cls=LazyGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.version_option(package_name="chipao")
def main(verbose: bool) -> None:
    """Chipao (ชี้เป้า): poverty targeting maps and lists for Thailand."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


if __name__ == "__main__":  # pragma: no cover
    main()
