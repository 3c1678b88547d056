"""`chipao bench <stage>`: benchmarks that compare Chipao's approach with the naive one,
measured in the same run. Stages live in service/bench/<stage>.py (each exposes ``command``)."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

import click

import service.bench


class BenchGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(m.name for m in pkgutil.iter_modules(service.bench.__path__))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        name = cmd_name.replace("-", "_")
        if importlib.util.find_spec(f"service.bench.{name}") is None:
            return None
        return importlib.import_module(f"service.bench.{name}").command


@click.group("bench", cls=BenchGroup, invoke_without_command=True)
@click.option("--households", type=int, default=None,
              help="Run the spatial pipeline benchmark (locate, H3, aggregate) on N households.")
@click.pass_context
def command(ctx: click.Context, households: int | None) -> None:
    """Benchmarks: chipao bench --households N, or chipao bench STAGE --help."""
    if ctx.invoked_subcommand is None:
        if households is None:
            click.echo(ctx.get_help())
            return
        pipeline = BenchGroup().get_command(ctx, "pipeline")
        if pipeline is None:
            raise click.ClickException("the pipeline benchmark is not installed")
        ctx.invoke(pipeline, households=households)
