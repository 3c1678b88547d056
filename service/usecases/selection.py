"""Budget-constrained village selection in one province (exact MILP, greedy fallback
reported), compared with taking the top of the priority ranking. Reads household data: the
caller must be allowed the province's detail.

Plain values in, plain values out; no Flask, no click."""

from __future__ import annotations

from typing import Any

import pandas as pd

from service.access.principal import Principal, require_detail


def village_table(store: Any, dataset: str, province: str, version: str | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    """Village areas of a province joined with poor households per indicator, plus ranking."""
    from service.analysis.rank import rank_areas
    from service.analysis.targets import village_needs
    from service.usecases.ranking import load_areas

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


def usable_costs(price: dict[str, float] | None, table: pd.DataFrame) -> dict[str, float]:
    """Prices of the indicators the dataset has: the defaults, overridden item by item by
    ``price`` (an unknown indicator in ``price`` is an error)."""
    from service.analysis.select import resolve_costs

    known = [c[len("n_hh_cdep_"):] for c in table.columns if c.startswith("n_hh_cdep_")]
    return resolve_costs(price, known)


def select(store: Any, p: Principal, dataset: str, province: str, version: str | None, *,
           budget: float, costs: dict[str, float] | None = None, objective: str | None = None,
           per_amphoe: bool = False, time_limit: float = 10.0) -> tuple[Any, dict[str, float],
                                                                        Any]:
    """(Selection, the price list used, version) for a province; 401/403 unless ``p`` may
    see the province's detail. Published datasets (no persons) select on target poor."""
    from service.analysis.select import select_villages
    from service.usecases import published

    require_detail(p, province)
    v = store.version(dataset, version)
    if published.is_published(store, dataset, v.id):  # TPMAP tables: no persons
        sel, price = published.select_villages(store, dataset, province, v.id, budget=budget,
                                               costs=costs, objective=objective,
                                               per_amphoe=per_amphoe, time_limit=time_limit)
        return sel, price, v
    table, ranking, v = village_table(store, dataset, province, v.id)
    price = usable_costs(costs, table)  # the defaults, overridden item by item
    sel = select_villages(table, budget=budget, costs=price, objective=objective or "poor",
                          per_amphoe=per_amphoe, ranking=ranking, time_limit=time_limit)
    return sel, price, v


def operator_selection(store: Any, dataset: str, province: str, version: str | None, *,
                       budget: float, costs: dict[str, float] | None = None,
                       objective: str | None = None, per_amphoe: bool = False,
                       time_limit: float = 10.0) -> tuple[Any, dict[str, Any]]:
    """(selection, summary) with an operator's full access (``chipao select``): the
    summary compares the selection with taking the top of the priority ranking."""
    from service.usecases import published

    sel, _, v = select(store, Principal("national"), dataset, province, version,
                       budget=budget, costs=costs, objective=objective,
                       per_amphoe=per_amphoe, time_limit=time_limit)
    summary = published.summary(sel)
    base = summary.pop("top_of_ranking")
    return sel, {"dataset": dataset, "version": v.id, "province": province,
                 **dict(summary.items()),
                 "top_of_ranking_people_lifted": base["people_lifted"],
                 "top_of_ranking_cost_thb": base["total_cost_thb"],
                 "gain_people_lifted": base["people_lifted_difference"],
                 "gain_m0_fall": base["m0_fall_difference"]}
