"""`chipao select`: choose villages within a budget (exact MILP, greedy fallback reported)."""

from __future__ import annotations

import click

from service.analysis.select import DEFAULT_COSTS  # noqa: F401  (the default price list)
from service.commands.rank import emit, load_areas, parse_pairs
from service.errors import ChipaoError


def village_table(store, dataset: str, province: str, version: str | None = None):
    """Village areas of a province joined with poor households per indicator, plus ranking."""
    from service.analysis.rank import rank_areas
    from service.analysis.targets import village_needs

    villages, previous, v, _ = load_areas(store, dataset, "village", province=province,
                                          version=version)
    needs = village_needs(store.read_persons(dataset, province, version=v.id))
    table = villages.merge(needs, on="code", how="left")
    for col in needs.columns:
        if col != "code":
            table[col] = table[col].fillna(0)
    table["amphoe_code"] = table["code"].str[:6]
    ranking = rank_areas(villages, previous=previous, explain=False)
    return table, ranking, v


def usable_costs(price: dict[str, float] | None, table) -> dict[str, float]:
    """Prices of the indicators the dataset has: the defaults, overridden item by item by
    ``price`` (an unknown indicator in ``price`` is an error)."""
    from service.analysis.select import resolve_costs

    known = [c[len("n_hh_cdep_"):] for c in table.columns if c.startswith("n_hh_cdep_")]
    return resolve_costs(price, known)


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
    from service.analysis.select import select_villages
    from service.settings import settings_from_env
    from service.store import open_store

    settings = settings_from_env()
    dataset = dataset or settings["default_dataset"]
    store = open_store(settings)
    from service.usecases import published

    try:
        given = parse_pairs(costs, "cost") if costs else None
        v = store.version(dataset, version_id)
        if published.is_published(store, dataset, v.id):  # TPMAP tables: no persons
            sel, price = published.select_villages(
                store, dataset, province.upper(), v.id, budget=budget, costs=given,
                objective=objective, per_amphoe=per_amphoe, time_limit=time_limit)
        else:
            table, ranking, v = village_table(store, dataset, province.upper(), version_id)
            price = usable_costs(given, table)
            sel = select_villages(table, budget=budget, costs=price,
                                  objective=objective or "poor", per_amphoe=per_amphoe,
                                  ranking=ranking, time_limit=time_limit)
    except ChipaoError as exc:  # e.g. a budget below one village per amphoe: say so, no trace
        raise click.ClickException(str(exc)) from exc
    summary = published.summary(sel)
    base = summary.pop("top_of_ranking")
    meta = {"dataset": dataset, "version": v.id, "province": province.upper(),
            **{k: val for k, val in summary.items()},
            "top_of_ranking_people_lifted": base["people_lifted"],
            "top_of_ranking_cost_thb": base["total_cost_thb"],
            "gain_people_lifted": base["people_lifted_difference"],
            "gain_m0_fall": base["m0_fall_difference"]}
    cols = [c for c in ("code", "name_th", "amphoe_code", "n_poor", "n_target_poor",
                        "cost_thb", "benefit",
                        "priority_rank") if c in sel.selected]
    if fmt != "table":
        emit(sel.selected, fmt, output, meta)
        return
    shown = sel.selected[cols].copy()
    if "cost_thb" in shown:  # whole baht with separators; the benefit to 4 decimals at most
        shown["cost_thb"] = [f"{v:,.0f}" for v in shown["cost_thb"].astype("float64")]
    if "benefit" in shown:
        shown["benefit"] = shown["benefit"].astype("float64").round(4)
    emit(shown, fmt, output, meta)
