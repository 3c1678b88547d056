"""The budget selection page: villages of one province chosen within a budget (exact MILP,
service.analysis.select), the same computation as ``GET /api/v1/selection``, with the
comparison against the greedy heuristic and against taking the top of the priority ranking,
names beside codes and a point map. Household data is read (cost model): the route checks the
province right first. No Flask here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from service.errors import InvalidInput
from service.usecases.profile import AreaSource, _projector, cached, previous_version


def village_table(src: AreaSource, version: Any, province: str
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Villages of the province with poor households per indicator, and their ranking (as
    ``chipao select`` and the API build them)."""
    from service.analysis.rank import rank_areas
    from service.analysis.targets import village_needs

    villages = src.read(version.id, "village", province)
    villages = villages[villages["province_code"] == province].reset_index(drop=True)
    if villages.empty:
        raise InvalidInput(f"no villages in {province} / ไม่พบหมู่บ้านในจังหวัด {province}",
                           column="province")
    prev_v = previous_version(src.store, src.dataset, version)
    previous = None
    if prev_v is not None:
        try:
            previous = src.read(prev_v.id, "village", province)
        except Exception:  # no village table in the earlier round: no change component
            previous = None
    needs = village_needs(src.store.read_persons(src.dataset, province, version=version.id))
    table = villages.merge(needs, on="code", how="left")
    for col in needs.columns:
        if col != "code":
            table[col] = table[col].fillna(0)
    table["amphoe_code"] = table["code"].str[:6]
    return table, rank_areas(villages, previous=previous, explain=False)


def _totals(frame: pd.DataFrame, mask: np.ndarray, people_col: str, n_total: float
            ) -> dict[str, Any]:
    sub = frame[mask]
    return {"n_selected": int(mask.sum()), "total_cost_thb": float(sub["cost_thb"].sum()),
            "people_lifted": int(sub[people_col].fillna(0).sum()),
            "m0_fall": float(sub["sum_c_poor"].fillna(0).sum() / n_total) if n_total else 0.0}


def selection_page(src: AreaSource, province: str, *, budget: float,
                   costs: dict[str, float] | None, objective: str = "poor",
                   per_amphoe: bool = False, version_id: str | None = None,
                   names: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the selection and return everything the page and its export show (once per
    version, parameters and visibility: a repeated load does not solve the MILP again;
    ``names`` are the version's area names, so they are not part of the key)."""
    version = src.store.version(src.dataset, version_id)
    return cached(src, "selection", version, (
        province, float(budget), tuple(sorted((costs or {}).items())), objective,
        bool(per_amphoe)),
        lambda: _selection_page(src, province, version, budget=budget, costs=costs,
                                objective=objective, per_amphoe=per_amphoe, names=names))


def _selection_page(src: AreaSource, province: str, version: Any, *, budget: float,
                    costs: dict[str, float] | None, objective: str, per_amphoe: bool,
                    names: dict[str, str] | None) -> dict[str, Any]:
    from service.analysis.select import (
        _PEOPLE,
        greedy_knapsack,
        resolve_costs,
        select_villages,
    )
    from service.usecases import published  # published tables (TPMAP hook): no persons

    if published.version_kind(version) == "published":
        return published.selection_page(src, province, budget=budget, costs=costs,
                                        objective=objective, per_amphoe=per_amphoe,
                                        version=version, names=names)
    table, ranking = village_table(src, version, province)
    known = [c[len("n_hh_cdep_"):] for c in table.columns if c.startswith("n_hh_cdep_")]
    prices = resolve_costs(costs, known)
    sel = select_villages(table, budget=budget, costs=prices, objective=objective,
                          per_amphoe=per_amphoe, ranking=ranking, time_limit=10.0)
    # the greedy heuristic on the same costs and benefits, for comparison
    from service.analysis.select import _benefit, village_costs

    people_col, prefix = _PEOPLE[objective]
    frame = table.reset_index(drop=True).copy()
    frame["cost_thb"] = village_costs(frame, prices, prefix=prefix)
    frame["benefit"] = _benefit(frame, objective)
    groups = frame["amphoe_code"].astype(str).to_numpy() if per_amphoe else None
    n_total = float(frame["n_persons"].fillna(0).sum())
    try:
        greedy = _totals(frame, greedy_knapsack(frame["benefit"].to_numpy(),
                                                frame["cost_thb"].to_numpy(), budget,
                                                groups), people_col, n_total)
    except Exception:  # pragma: no cover - the greedy fallback never raises in practice
        greedy = None
    names = names or {}
    chosen = sel.selected.copy()
    chosen["amphoe_name"] = chosen["code"].str[:6].map(lambda c: names.get(c, ""))
    chosen["tambon_name"] = chosen["code"].str[:8].map(lambda c: names.get(c, ""))
    chosen = chosen.rename(columns={"code": "village_id"})
    keep = [c for c in ("village_id", "name_th", "tambon_name", "amphoe_name", "n_households",
                        "n_persons", "n_poor", "n_target_poor", "cost_thb", "benefit",
                        "priority_rank") if c in chosen]
    summary = sel.summary()
    return {"province": province, "version": version, "budget": budget, "costs": prices,
            "objective": objective, "per_amphoe": per_amphoe, "summary": summary,
            "greedy": greedy, "top": summary["top_of_ranking"], "selected": chosen[keep],
            "map": _points(table, set(sel.selected["code"]))}


def _points(table: pd.DataFrame, chosen: set[str], width: float = 420,
            height: float = 360) -> dict[str, Any] | None:
    pts = table[["code", "lon", "lat", "name_th"]].dropna(subset=["lon", "lat"]) \
        if {"lon", "lat"} <= set(table.columns) else pd.DataFrame()
    if pts.empty:
        return None
    xs, ys = pts["lon"].to_numpy(float), pts["lat"].to_numpy(float)
    proj = _projector(xs.min(), ys.min(), xs.max(), ys.max(), width, height)
    shapes = []
    for code, x, y, name in zip(pts["code"], xs, ys, pts["name_th"], strict=True):
        px, py = proj(x, y)
        shapes.append({"code": code, "name": name or code, "x": round(px, 1),
                       "y": round(py, 1), "chosen": code in chosen})
    shapes.sort(key=lambda s: s["chosen"])  # chosen drawn on top
    return {"width": width, "height": height, "shapes": shapes}
