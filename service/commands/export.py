"""`chipao export`: area tables, village target lists or household target lists to files.

Runs with the operator's full access to the store. ``--public`` applies the same disclosure
control as the public API (use it for anything published). Village and household lists are
the target lists of service.analysis.targets (via service.export.targets), the same rows as
``/api/v1/targets/...`` and ``/api/v1/exports/...``. Household lists are CSV/XLSX only (no
home locations), never public, and written to the audit log as the operating-system user.
"""

from __future__ import annotations

import getpass
import logging
from pathlib import Path

import click

from service.settings import settings_from_env

log = logging.getLogger(__name__)


@click.command("export")
@click.option("--dataset", default=None, help="Dataset (default: setting default_dataset).")
@click.option("--version", "version", default=None, help="Version id (default: current).")
@click.option("--level", default=None,
              help="Area level to export (country, province, amphoe, tambon, village, h3_r6-9).")
@click.option("--province", default=None, help="Only this province (TH50).")
@click.option("--villages", "villages_of", default=None, metavar="AREA",
              help="Village target list (ranked) of a province/amphoe/tambon code.")
@click.option("--households", "households_of", default=None, metavar="AREA",
              help="Poor households of an admin area, nearest to exit first (personal data; "
                   "audited; csv/xlsx only).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "geojson", "gpkg"]),
              default="csv", show_default=True)
@click.option("--public", is_flag=True, help="Apply disclosure control (suppression).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=".",
              show_default=True, help="Directory to write into (file name made here).")
def command(dataset: str | None, version: str | None, level: str | None,
            province: str | None, villages_of: str | None, households_of: str | None,
            fmt: str, public: bool, out_dir: str) -> None:
    """Export a table; the file name is generated (Thai area names kept)."""
    from service.services import Services
    from service.usecases import exports

    if len([x for x in (level, villages_of, households_of) if x]) != 1:
        raise click.UsageError("give exactly one of --level, --villages, --households")
    if households_of and public:
        raise click.UsageError("household lists are never public "
                               "/ รายชื่อครัวเรือนไม่เผยแพร่ต่อสาธารณะ")
    s = Services.create(settings_from_env())
    export = exports.operator_export(
        s, dataset or s.settings.default_dataset, version, level=level, province=province,
        villages_of=villages_of, households_of=households_of, fmt=fmt, public=public,
        username=f"cli:{getpass.getuser()}")
    body, name = exports.export_file(export, fmt)
    path = Path(out_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    click.echo(f"wrote {len(export.frame):,} rows to {path} ({len(body) / 1024:,.1f} KiB)")
