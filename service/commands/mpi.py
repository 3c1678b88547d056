"""`chipao mpi`: Alkire-Foster MPI, TPMAP union rule and programme coverage for a person file.

    chipao mpi --spec tpmap --input persons.parquet --by province_code --k 0.26 --k 0.33
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Any

import click

log = logging.getLogger(__name__)


def _fmt(v: Any) -> Any:
    return round(v, 6) if isinstance(v, float) else v


def results_to_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten the JSON results: one row per (k, group)."""
    rows = []
    for r in summary["results"]:
        group = r["group"]
        row: dict[str, Any] = {
            "k": r["k"], "by": group["column"] if group else "",
            "group": "" if group is None or group["value"] is None else group["value"],
            "n": r["n"], "n_dropped": r["n_dropped"], "q": r["q"], "h": r["h"], "a": r["a"],
            "m0": r["m0"], "vulnerable": r["vulnerable"], "severe": r["severe"],
            "population_share": r.get("population_share", 1.0 if group is None else None),
            "contribution_to_m0": r.get("contribution_to_m0", 1.0 if group is None else None),
            "deprived_any": r["deprived_any"], "target_poor": r.get("target_poor"),
        }
        for ind, v in r["uncensored_headcount"].items():
            row[f"uncensored_{ind}"] = v
        for ind, v in r["censored_headcount"].items():
            row[f"censored_{ind}"] = v
        for ind, v in r["contribution"]["indicators"].items():
            row[f"contribution_{ind}"] = v
        for dim, v in r["contribution"]["dimensions"].items():
            row[f"contribution_dim_{dim}"] = v
        for tg in r.get("target_groups", []):
            row[f"h_{tg['group']}"] = tg["h"]
            row[f"m0_{tg['group']}"] = tg["m0"]
        for cov in r.get("coverage", []):
            row[f"coverage_{cov['programme']}"] = cov["coverage"]
            row[f"excluded_{cov['programme']}"] = cov["excluded"]
            row[f"inclusion_errors_{cov['programme']}"] = cov["inclusion_errors"]
        rows.append({k: _fmt(v) for k, v in row.items()})
    return rows


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


@click.command("mpi")
@click.option("--spec", "spec_name", default="tpmap", show_default=True,
              help="Preset name (tpmap, tpmap_union) or a JSON/YAML specification file.")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help="Person table: .csv (UTF-8) or .parquet, columns as docs/CONTRACT.md §1.")
@click.option("--by", default=None, help="Column to decompose by (area code, sex, grp_child…).")
@click.option("--k", "k_values", type=float, multiple=True,
              help="Poverty cutoff(s) in (0, 1]; repeat for several. Default: the spec's k.")
@click.option("--weight", default=None, help="Survey/sample weight column.")
@click.option("--programmes", default="default",
              help="Programmes file (eligibility rules); 'default' = the shipped preset, "
                   "'none' = skip coverage.")
@click.option("--union-dims", default=None,
              help="Comma-separated dimensions of the TPMAP union rule (default: the spec's).")
@click.option("--no-card", is_flag=True,
              help="Target poor without requiring a validated welfare card.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Write here instead of standard output.")
def command(spec_name: str, input_path: str, by: str | None, k_values: tuple[float, ...],
            weight: str | None, programmes: str, union_dims: str | None, no_card: bool,
            fmt: str, output: str | None) -> None:
    """Score persons and print H, A, M0, headcounts, contributions and coverage.

    คำนวณดัชนีความยากจนหลายมิติ (Alkire-Foster) และความครอบคลุมของสวัสดิการ
    """
    from service.usecases.mpi_file import score_file

    summary = score_file(spec_name, input_path, by=by, k_values=list(k_values) or None,
                         weight=weight, programmes=programmes, union_dims=union_dims,
                         no_card=no_card)
    if summary["skipped"]:
        click.echo("หมายเหตุ / note: skipped (missing columns): " + "; ".join(
            f"{part}: {', '.join(cols)}" for part, cols in summary["skipped"].items()),
            err=True)
    if fmt == "json":
        text = json.dumps(summary, ensure_ascii=False, indent=2, default=str) + "\n"
    else:
        text = _csv(results_to_rows(summary))
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"เขียนแล้ว / written: {output} ({len(summary['results']):,} rows)", err=True)
    else:
        click.echo(text, nl=False)
