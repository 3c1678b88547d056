"""`chipao ingest FILE... --dataset NAME --round YEAR`: import survey/registry files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from service.settings import settings_from_env


@click.command("ingest")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dataset", default=None, help="Dataset name (default: setting default_dataset).")
@click.option("--round", "round_", type=int, default=None,
              help="Survey round (year, e.g. 2567). Required unless --find-pseudonym is used.")
@click.option("--policy", type=click.Choice(["reject", "quarantine"]), default="reject",
              show_default=True,
              help="reject: any bad row refuses the import. quarantine: import the valid rows, "
                   "list and copy the others.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write every problem (file,row,column,reason) to this CSV.")
@click.option("--quarantine-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Copy quarantined rows here (default: next to the first input file).")
@click.option("--replace-all", is_flag=True,
              help="The files replace the whole dataset. Default: provinces absent from the "
                   "files keep their rows from the current version of the same round.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--find-pseudonym", "find", multiple=True, metavar="PSEUDONYM",
              help="Do not import: search FILES (the province's own source files) for the "
                   "person or household with this pseudonym, for a home visit.")
def command(files: tuple[Path, ...], dataset: str | None, round_: int | None, policy: str,
            report_path: Path | None, quarantine_dir: Path | None, replace_all: bool,
            as_json: bool, find: tuple[str, ...]) -> None:
    """Import BMN (จปฐ.) survey or welfare-registry files (CSV, XLSX, Parquet).

    National IDs, house numbers and names are replaced by keyed HMAC pseudonyms; problems are
    reported by file, row and column. Importing the same file twice creates no new version.
    """

    settings = settings_from_env()
    if find:
        _find(settings, files, find)
        return
    if round_ is None:
        raise click.UsageError("--round is required / ต้องระบุ --round")
    from service.ingest.run import ingest_files

    if policy == "quarantine" and quarantine_dir is None:
        quarantine_dir = files[0].resolve().parent
    report = ingest_files(
        settings, list(files), dataset=dataset or settings.default_dataset,
        round=round_, policy=policy, progress=True, report_path=report_path,
        quarantine_dir=quarantine_dir, carry_over=not replace_all)
    click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=1) if as_json
               else report.summary())
    if report.status == "rejected":
        raise click.exceptions.Exit(1)


def _find(settings: Mapping[str, Any], files: tuple[Path, ...], wanted: tuple[str, ...]) -> None:
    """Re-identification for an authorised officer: print matches to the terminal only."""
    from service.ingest.find import find_pseudonyms

    found = 0
    for match in find_pseudonyms(settings, list(files), set(wanted)):
        found += 1
        click.echo(" · ".join(f"{k}: {v}" for k, v in match.items() if v not in (None, "")))
    if not found:
        raise click.ClickException("ไม่พบนามแฝงนี้ในไฟล์ / pseudonym not found in these files")
