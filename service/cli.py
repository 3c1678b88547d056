"""The ``chipao`` command. Sub-commands live in service/commands/<name>.py (each exposes
``command``) and are imported only when used, so ``chipao --help`` stays fast."""

from __future__ import annotations

import importlib
import importlib.util
import logging

import click

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
}


class LazyGroup(click.Group):
    """Sub-commands imported when used; the ONE translation of domain errors: a
    :class:`service.errors.ChipaoError` raised by any command (or a use case it calls) ends
    the command with its message and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        from service.errors import ChipaoError

        try:
            return super().invoke(ctx)
        except ChipaoError as exc:
            raise click.ClickException(str(exc)) from exc

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
