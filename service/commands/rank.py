"""`chipao rank`: priority ranking of tambons, villages or H3 cells, with explanations
(service.usecases.ranking); :func:`emit` and :func:`human` print results for ``chipao rank``
and ``chipao select``."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from service.usecases.ranking import RANK_LEVELS, operator_ranking, parse_pairs, rank_config

log = logging.getLogger(__name__)

def human(key: str, value: Any) -> str | None:
    """``value`` of a summary field as people read it; None for an empty field (left out).

    ``budget_thb`` 20000000.0 -> ``20,000,000 THB``; whole numbers with thousands separators;
    other numbers with 2 decimals (4 below 1, e.g. an M0 fall of 0.0014); lists joined.
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value) or None
    if isinstance(value, bool | np.bool_):
        return "yes / ใช่" if value else "no / ไม่"
    if isinstance(value, int | float | np.integer | np.floating):
        v = float(value)
        if key == "round" or key.endswith("_round"):  # a Buddhist-era year: no separator
            return f"{v:.0f}"
        if key.endswith("_thb"):
            text = f"{v:,.0f}" if abs(v) >= 100 or v == int(v) else f"{v:,.2f}"
            return f"{text} THB"
        if isinstance(value, int | np.integer) or (v == int(v) and abs(v) >= 1):
            return f"{v:,.0f}"
        if v == 0:
            return "0"
        return f"{v:,.2f}" if abs(v) >= 1 else f"{v:.4f}"
    return str(value)


def emit(frame: pd.DataFrame, fmt: str, output: str | None, meta: dict[str, Any]) -> None:
    if fmt == "csv":
        from service.export.formats import to_csv  # BOM for Excel, formulas neutralised

        data = to_csv(frame)
        if output:
            Path(output).write_bytes(data)
        else:
            click.echo(data.decode("utf-8-sig"), nl=False)
        return
    if fmt == "json":
        payload = {**meta, "items": json.loads(frame.to_json(orient="records",
                                                            force_ascii=False))}
        text = json.dumps(payload, ensure_ascii=False, indent=2)
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            click.echo(text)
        return
    for key, value in meta.items():
        shown = human(key, value)
        if shown is not None:
            click.echo(f"{key}: {shown}")
    if output:
        raise click.UsageError("--output needs --format csv or json")
    with pd.option_context("display.max_columns", 12, "display.width", 160):
        click.echo(frame.to_string(index=False))


@click.command("rank")
@click.option("--dataset", default=None, help="Dataset (default: setting default_dataset).")
@click.option("--version", "version_id", default=None, help="Version id (default: current).")
@click.option("--level", default="village", show_default=True, type=click.Choice(RANK_LEVELS))
@click.option("--province", default=None, help="Rank the areas of one province (TH10).")
@click.option("--top", default=10, show_default=True, type=int, help="Rows to show.")
@click.option("--weights", "weights_file", default=None, type=click.Path(dir_okay=False),
              help="Weights file (JSON, shape of service/analysis/presets/ranking/priority.json).")
@click.option("--weight", "weight_overrides", multiple=True, metavar="ID=W",
              help="Override one component's weight, e.g. --weight n_poor=0.5 (repeatable).")
@click.option("--bootstrap", "n_boot", default=0, show_default=True, type=int,
              help="Replicates for intervals and P(top N): household bootstrap with --province, "
                   "binomial resampling of the area table without.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "csv", "json"]))
@click.option("--output", default=None, type=click.Path(dir_okay=False),
              help="Write to this file (csv/json) instead of the terminal.")
@click.option("--lang", default="both", show_default=True, type=click.Choice(["both", "th", "en"]),
              help="Language of the explanations in the table (both: Thai, then English).")
def command(dataset: str | None, version_id: str | None, level: str, province: str | None,
            top: int, weights_file: str | None, weight_overrides: tuple[str, ...], n_boot: int,
            seed: int, fmt: str, output: str | None, lang: str = "both") -> None:
    """Rank areas by priority (most urgent first), each with its explanation.

    จัดลำดับความสำคัญของพื้นที่ พร้อมคำอธิบายที่มาของคะแนนแต่ละองค์ประกอบ
    """
    from service.settings import settings_from_env
    from service.store import open_store

    settings = settings_from_env()
    ranked, meta = operator_ranking(
        open_store(settings), dataset or settings.default_dataset, level, province=province,
        version=version_id, config=rank_config(weights_file, parse_pairs(weight_overrides,
                                                                         "weight") or None),
        n_boot=n_boot, top_n=top, seed=seed)
    if fmt != "table":
        emit(ranked, fmt, output, meta)
        return
    frame = ranked.head(top)
    show = ["priority_rank", "code", "name_th", "priority_score"]
    if n_boot > 0:
        show += ["rank_lo", "rank_hi", "p_top_n"]
    emit(frame[[c for c in show if c in frame]].round(3), fmt, output, meta)
    click.echo("")
    explain(frame, lang)


def explain(frame: pd.DataFrame, lang: str) -> None:
    """Each area's explanation, in Thai then English (or one language)."""
    langs = ("th", "en") if lang == "both" else (lang,)
    for _, row in frame.iterrows():
        names = [row.get("name_en"), row.get("name_th")] if lang == "en" else [
            row.get("name_th")]
        name = next((n for n in names if isinstance(n, str) and n), "")
        head = f"{row['priority_rank']:>3}. {row['code']} {name}".rstrip()
        if len(langs) == 1:
            click.echo(f"{head}: {row[f'explanation_{langs[0]}']}")
            continue
        click.echo(head)
        for lg in langs:
            click.echo(f"     {lg.upper()}: {row[f'explanation_{lg}']}")
