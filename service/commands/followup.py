"""`chipao followup open|import|evaluate|simulate`: household follow-up from the command line.

The commands act as a national user named ``cli`` (the server's operator); every read and
write is audited like the pages. Output holds aggregates and case counts only.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click


def _services() -> Any:
    from service.settings import settings_from_env
    from service.store import open_store
    from service.store.users import UserStore

    settings = settings_from_env()
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    return SimpleNamespace(settings=settings, store=open_store(settings),
                           users=UserStore(settings.database_url), followup=None)


def _operator() -> Any:
    from service.access.principal import Principal

    return Principal("national", None, "cli")


@click.group("followup")
def command() -> None:
    """Household follow-up: open a round's cases, import agency files, evaluate."""


@command.command("open")
@click.option("--dataset", default=None, help="Dataset (default: CHIPAO_DEFAULT_DATASET).")
@click.option("--province", default=None, help="One province, e.g. TH58 (default: all).")
def open_cmd(dataset: str | None, province: str | None) -> None:
    """Open the current round's cases (one per target household)."""
    from service.usecases import cases as uc

    opened = uc.open_cases(_services(), _operator(), dataset=dataset,
                           province=province)
    for prov, n in opened.items():
        click.echo(f"{prov}: เปิดกรณีใหม่ {n:,} ครัวเรือน / {n:,} new cases")


@command.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dataset", default=None)
@click.option("--policy", type=click.Choice(["reject", "quarantine"]), default="reject",
              show_default=True)
def import_cmd(file: Path, dataset: str | None, policy: str) -> None:
    """Import an agency's assistance file (CSV/XLSX)."""
    from service.usecases import cases as uc

    report = uc.import_file(_services(), _operator(), file, name=file.name,
                            dataset=dataset, policy=policy)
    click.echo(report.summary())
    if report.status == "rejected":
        raise SystemExit(1)


@command.command("evaluate")
@click.option("--dataset", default=None)
@click.option("--by", type=click.Choice(["all", "action", "agency", "area"]), default="all",
              show_default=True)
@click.option("--outcome", type=click.Choice(["poverty", "exclusion"]), default="poverty",
              show_default=True)
@click.option("--area", default=None, help="A province or amphoe code.")
@click.option("--boot", type=int, default=500, show_default=True)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the results as CSV (UTF-8 with BOM).")
def evaluate_cmd(dataset: str | None, by: str, outcome: str, area: str | None, boot: int,
                 csv_path: Path | None) -> None:
    """Exit of helped vs comparable not-helped households between the last two rounds."""
    from service.usecases import cases as uc

    ev = uc.evaluation(_services(), _operator(), dataset=dataset, by=by,
                       outcome=outcome, area=area, n_boot=boot)
    click.echo(f"รอบ {ev.baseline.round} -> {ev.follow.round} · {ev.n_panel:,} ครัวเรือนทั้งสองรอบ "
               f"/ households in both rounds; outcome {ev.outcome}")
    for r in ev.results.to_dict("records"):
        if r["effect"] == r["effect"]:
            click.echo(f"  {r['label_th'] or r['key']}: ช่วยเหลือ/helped {r['n_helped']:,} "
                       f"(จับคู่/matched {r['n_matched']:,}) พ้น/exit {r['exit_rate_helped']:.1%}"
                       f" vs {r['exit_rate_comparison']:.1%}: {100 * r['effect']:+.1f} จุด/pts "
                       f"[{100 * r['effect_lo']:+.1f}, {100 * r['effect_hi']:+.1f}]")
        else:
            click.echo(f"  {r['label_th'] or r['key']}: ข้อมูลไม่พอ / too few households "
                       f"({r['n_helped']:,})")
    if csv_path is not None:
        from service.export.formats import to_csv

        csv_path.write_bytes(to_csv(ev.results))


@command.command("simulate")
@click.option("--dataset", default="followup-demo", show_default=True)
@click.option("--provinces", default="TH58", show_default=True,
              help="Comma-separated province codes of the demo generator.")
@click.option("--amphoes", default=None, help="Only these amphoes (comma-separated).")
@click.option("--effect", type=float, default=0.25, show_default=True,
              help="True effect of help on the probability of exit (docs/followup.md).")
@click.option("--seed", type=int, default=2562, show_default=True)
def simulate_cmd(dataset: str, provinces: str, amphoes: str | None, effect: float,
                 seed: int) -> None:
    """Two demo rounds in which help had a known effect (then: chipao followup evaluate)."""
    import polars as pl

    from service.demo.generate import generate_province
    from service.followup.simulate import simulate_dataset

    svc = _services()
    raw = pl.concat([generate_province(p.strip(), seed=2561,
                                       amphoes=amphoes.split(",") if amphoes else None)
                     for p in provinces.split(",")])
    out = simulate_dataset(svc.settings, raw, dataset=dataset, seed=seed,
                           effect=effect)
    click.echo(json.dumps(out, ensure_ascii=False, indent=1))
