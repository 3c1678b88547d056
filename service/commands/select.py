"""`chipao select`: choose villages within a budget (exact MILP, greedy fallback reported)."""

from __future__ import annotations

import click
import pandas as pd

from service.commands.rank import emit
from service.usecases.ranking import parse_pairs


@click.command("select")
@click.option("--dataset", default=None, help="Dataset (default: setting default_dataset).")
@click.option("--version", "version_id", default=None, help="Version id (default: current).")
@click.option("--province", required=True, help="Province code, e.g. TH63.")
@click.option("--budget", required=True, type=float, help="Budget in THB.")
@click.option("--cost", "costs", multiple=True, metavar="IND=THB",
              help="THB per household lifted out of one indicator, e.g. --cost ind22=20000 "
                   "(repeatable; overrides that item of the illustrative default price "
                   "list, the others keep their default).")
@click.option("--objective", default=None,
              type=click.Choice(["poor", "m0", "target_poor"]),
              help="Maximise MPI-poor people lifted (default), the fall in M0, or TPMAP "
                   "target poor lifted (default and only choice on published tables).")
@click.option("--per-amphoe", is_flag=True, help="At least one village in every amphoe.")
@click.option("--time-limit", default=20.0, show_default=True, type=float,
              help="Seconds for the exact solver before it keeps its best solution.")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "csv", "json"]))
@click.option("--output", default=None, type=click.Path(dir_okay=False))
def command(dataset: str | None, version_id: str | None, province: str, budget: float,
            costs: tuple[str, ...], objective: str, per_amphoe: bool, time_limit: float,
            fmt: str, output: str | None) -> None:
    """Choose villages to lift the most people out of poverty within a budget, and compare
    with taking the top of the priority ranking.

    เลือกหมู่บ้านภายใต้งบประมาณ ให้จำนวนคนพ้นความยากจนมากที่สุด เทียบกับการเลือกตามลำดับความสำคัญ
    """
    from service.settings import settings_from_env
    from service.store import open_store
    from service.usecases import selection

    settings = settings_from_env()
    sel, meta = selection.operator_selection(
        open_store(settings), dataset or settings.default_dataset, province.upper(), version_id,
        budget=budget, costs=parse_pairs(costs, "cost") if costs else None, objective=objective,
        per_amphoe=per_amphoe, time_limit=time_limit)
    emit(sel.selected if fmt != "table" else for_people(sel.selected), fmt, output, meta)


def for_people(selected: pd.DataFrame) -> pd.DataFrame:
    """The terminal table: whole baht with separators, the benefit to 4 decimals at most."""
    cols = [c for c in ("code", "name_th", "amphoe_code", "n_poor", "n_target_poor",
                        "cost_thb", "benefit", "priority_rank") if c in selected]
    shown = selected[cols].copy()
    if "cost_thb" in shown:
        shown["cost_thb"] = [f"{v:,.0f}" for v in shown["cost_thb"].astype("float64")]
    if "benefit" in shown:
        shown["benefit"] = shown["benefit"].astype("float64").round(4)
    return shown
