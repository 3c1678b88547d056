"""`chipao import-tpmap DIR --dataset NAME --round 2561`: import TPMAP's published tables."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("import-tpmap")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dataset", required=True, help="Dataset name, e.g. tpmap.")
@click.option("--round", "round_", type=int, required=True,
              help="Survey round (Buddhist-era year, e.g. 2561).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def command(directory: Path, dataset: str, round_: int, as_json: bool) -> None:
    """Import TPMAP's published area tables (amphur/tambol/village x common + 31 dimension
    masks) as a dataset without persons. Every problem is reported by file, row and column;
    nothing is stored when there is one. The same files again create no new version."""
    from types import SimpleNamespace

    from service.settings import settings_from_env
    from service.usecases.published import import_published

    # whoever runs the command on the server is its operator: a national user
    operator = SimpleNamespace(role="national", province=None, username="cli")
    report = import_published(settings_from_env(), operator, directory,
                              dataset=dataset, round=round_)
    click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=1) if as_json
               else report.summary())
    if report.status == "rejected":
        raise click.exceptions.Exit(1)
