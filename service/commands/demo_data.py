"""`chipao demo-data`: calibrated synthetic person records (TPMAP 2561) for any provinces."""

from __future__ import annotations

import resource
import time

import click


def _codes(value: str | None) -> list[str] | None:
    if value is None or value.strip().lower() == "all":
        return None
    codes = [c.strip().upper() for c in value.split(",") if c.strip()]
    return [c if c.startswith("TH") else "TH" + c for c in codes]


@click.command("demo-data")
@click.option("--provinces", default="all", show_default=True,
              help="'all' or comma-separated province codes, e.g. TH75,TH50 "
                   "(ทุกจังหวัด หรือรหัสจังหวัดคั่นด้วยจุลภาค).")
@click.option("--amphoes", default=None,
              help="Only these amphoes (comma-separated, e.g. TH7501): a small, fast subset "
                   "with exactly the rows of the full run (เฉพาะอำเภอ).")
@click.option("--seed", default=2561, show_default=True, type=int, help="Random seed.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Output directory: persons/<province>.parquet and manifest.json.")
@click.option("--with-identifiers", is_flag=True,
              help="Add synthetic national_id (valid check digit), first_name, last_name "
                   "columns, for pseudonymisation tests (เพิ่มเลขประจำตัวและชื่อสมมุติ).")
@click.option("--fit/--no-fit", default=True, show_default=True,
              help="Print the fit to TPMAP 2561 province totals, recomputed from the output.")
@click.option("--rounds", default=None,
              help="A panel of survey rounds (Buddhist years, e.g. 2561,2562,2565): the same "
                   "households followed, written to OUT/r<round>/ (docs/calibration.md, Panel) "
                   "(หลายรอบสำรวจ ติดตามครัวเรือนเดิม).")
def command(provinces: str, amphoes: str | None, seed: int, out: str,
            with_identifiers: bool, fit: bool, rounds: str | None) -> None:
    """Generate calibrated demo person records (สร้างข้อมูลตัวอย่างระดับบุคคล)."""
    from service.demo.generate import generate

    t0 = time.perf_counter()
    if rounds is not None:
        _panel(rounds, _codes(provinces), _codes(amphoes), seed, out, with_identifiers, t0)
        return
    try:
        manifest = generate(_codes(provinces), seed=seed, out=out, amphoes=_codes(amphoes),
                            with_identifiers=with_identifiers)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    _report(manifest, out, time.perf_counter() - t0)
    if fit and not manifest.get("amphoes"):
        _fit(out, manifest["provinces"])


def _report(manifest: dict, out: str, elapsed: float) -> None:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    click.echo(
        f"{manifest['n_households']:,} households / ครัวเรือน, {manifest['n_persons']:,} people "
        f"/ คน in {len(manifest['provinces'])} province(s) -> {out} "
        f"({elapsed:,.1f} s, peak memory {peak_mb:,.0f} MiB)"
    )
    moved = manifest["calibration"]["moved_people"]
    click.echo(f"municipal / unknown TPMAP codes rolled into real tambons (national): "
               f"{manifest['calibration']['moved_units']:,} units, {moved:,} people")


def _fit(out: str, provinces: list[str]) -> None:
    """The largest error against TPMAP 2561 province totals, recomputed from the output."""
    import polars as pl

    from service.demo.fit import province_fit

    table = province_fit(out, provinces).drop_nulls("pub_persons")
    if table.height:
        worst_p = float(table.select(pl.col("err_persons_pct").abs().max()).item())
        worst_t = float(table.select(pl.col("err_target_pct").abs().max()).item())
        click.echo(f"fit to TPMAP 2561 ({table.height} provinces): largest error people "
                   f"{worst_p:.3f} %, target poor {worst_t:.3f} %")


def _panel(rounds: str, provinces: list[str] | None, amphoes: list[str] | None, seed: int,
           out: str, with_identifiers: bool, t0: float) -> None:
    from service.demo.panel import generate_panel, parse_rounds

    try:
        summary = generate_panel(parse_rounds(rounds), seed=seed, out=out,
                                 provinces=provinces, amphoes=amphoes,
                                 with_identifiers=with_identifiers)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    click.echo(f"panel rounds / รอบสำรวจ {', '.join(map(str, summary['rounds']))} -> {out} "
               f"({time.perf_counter() - t0:,.1f} s, peak memory {peak_mb:,.0f} MiB)")
    for rnd, info in summary["per_round"].items():
        f = info["fit"]
        click.echo(f"  {rnd}: {info['n_households']:,} households / ครัวเรือน, "
                   f"{info['n_persons']:,} people / คน; TPMAP provinces: people "
                   f"{f['persons']:,} vs {f['published_persons']:,} ({f['persons_source']}, "
                   f"{f['err_persons_pct']:+.3f} %), target poor / คนจนเป้าหมาย "
                   f"{f['target_poor']:,} vs {f['published_target_poor']:,} "
                   f"({f['target_poor_source']}, {f['err_target_poor_pct']:+.3f} %)")
