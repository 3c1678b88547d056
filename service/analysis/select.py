"""Budget-constrained village selection (a 0/1 knapsack, optionally >= 1 village per amphoe).

Model. Acting in a village means fixing every deprivation of its poor households: the village
costs ``cost_v = sum_j cost_j * H_vj`` where ``H_vj`` is the number of poor households with a
member deprived in indicator j (``n_hh_cdep_<ind>``, from :func:`service.analysis.targets.
village_needs`) and ``cost_j`` the cost (THB) of lifting one household out of deprivation j.
The benefit is either the people lifted out of poverty (``objective="poor"``: ``n_poor``) or
the fall in M0 of the whole set (``objective="m0"``: ``sum_c_poor / N`` with N the persons of
all candidate villages, since M0 = sum c_i(k) / n), or the TPMAP target poor lifted
(``objective="target_poor"``: ``n_target_poor``; the cost then counts the target-poor
households deprived in each indicator, ``n_hh_tdep_<ind>``).

Maximise ``sum_v b_v x_v`` subject to ``sum_v cost_v x_v <= budget``, optionally
``sum_{v in amphoe a} x_v >= 1`` for every amphoe, ``x_v in {0, 1}``; solved exactly with
``scipy.optimize.milp`` (HiGHS branch and bound). When HiGHS stops at its time limit without
proving optimality the best solution found is kept and the MIP gap is reported; when it finds
none (or scipy raises) the greedy heuristic (best benefit per baht first, after the cheapest
village of each amphoe when required) is used, and ``method``/``note`` say so.

Baseline: "take the top of the priority ranking" walks down the ranking and takes each village
that still fits the remaining budget; the result reports both and the difference.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from service.errors import InvalidInput

log = logging.getLogger(__name__)

OBJECTIVES = ("poor", "m0", "target_poor")
#: THB per household lifted out of each deprivation when none is given: an illustrative
#: price list to edit, not an official one (docs/ranking.md)
DEFAULT_COSTS: dict[str, float] = {
    "ind22": 20_000.0, "ind20": 15_000.0, "ind21": 10_000.0, "ind8": 80_000.0,
    "ind9": 3_000.0, "ind10": 15_000.0, "ind11": 2_000.0, "ind16": 5_000.0,
    "ind15": 5_000.0, "ind17": 8_000.0, "ind19": 3_000.0, "ind27": 6_000.0,
    "ind28": 6_000.0, "ind1": 4_000.0, "ind4": 2_000.0, "ind5": 1_000.0, "ind7": 500.0}
#: objective -> (column counted as people lifted, prefix of the household-need columns)
_PEOPLE = {"poor": ("n_poor", "n_hh_cdep_"), "m0": ("n_poor", "n_hh_cdep_"),
           "target_poor": ("n_target_poor", "n_hh_tdep_")}


@dataclass
class Selection:
    """Result of :func:`select_villages`."""

    selected: pd.DataFrame            # chosen villages with cost and benefit, best first
    method: str                       # "milp" | "milp-time-limit" | "greedy"
    objective: str
    budget: float
    total_cost: float
    total_benefit: float
    people_lifted: int
    m0_fall: float
    per_amphoe: bool
    note: str = ""
    mip_gap: float | None = None
    seconds: float = 0.0
    baseline: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "method": self.method, "objective": self.objective, "budget_thb": self.budget,
            "n_selected": len(self.selected), "total_cost_thb": self.total_cost,
            "total_benefit": self.total_benefit, "people_lifted": self.people_lifted,
            "m0_fall": self.m0_fall, "per_amphoe": self.per_amphoe, "note": self.note,
            "mip_gap": self.mip_gap, "seconds": round(self.seconds, 3),
            "top_of_ranking": self.baseline,
        }


def indicator_key(ind: str | int) -> str:
    """``22`` or ``"22"`` or ``"ind22"`` -> ``"ind22"``."""
    text = str(ind).strip()
    return text if text.startswith("ind") else f"ind{text}"


def resolve_costs(given: Mapping[str, float] | None, known: Iterable[str], *,
                  defaults: Mapping[str, float] = DEFAULT_COSTS) -> dict[str, float]:
    """The price list to use: the defaults, with the prices ``given`` overriding only the
    indicators they name (a partial list never zeroes the others).

    ``known``: indicators the dataset has household counts for; defaults of other
    indicators are left out, while a given price for an unknown indicator is an error.
    """
    have = {indicator_key(k) for k in known}
    out = {k: float(v) for k, v in defaults.items() if indicator_key(k) in have}
    for k, price in (given or {}).items():
        key = indicator_key(k)
        if key not in have:
            raise InvalidInput(f"indicator {k!r} is not in this dataset; known: "
                               f"{', '.join(sorted(have))} / ไม่มีตัวชี้วัดนี้ในชุดข้อมูล",
                               column="cost")
        price = float(price)
        if not np.isfinite(price) or price < 0:
            raise InvalidInput(f"cost of {key} must be a number >= 0, got {price} "
                               f"/ ค่าใช้จ่ายต้องเป็นตัวเลขไม่ติดลบ", column="cost")
        out[key] = price
    return out


def village_costs(villages: pd.DataFrame, costs: dict[str, float], *,
                  prefix: str = "n_hh_cdep_") -> pd.Series:
    """Cost (THB) of lifting every poor household of each village out of each deprivation.

    ``costs`` maps an indicator (``ind22`` or ``22``) to THB per household; indicators not
    named cost 0. ``villages`` needs ``n_hh_cdep_<ind>`` for every named indicator.
    """
    total = pd.Series(0.0, index=villages.index)
    for ind, price in costs.items():
        key = ind if str(ind).startswith("ind") else f"ind{ind}"
        col = f"{prefix}{key}"
        if col not in villages:
            raise InvalidInput(f"no household counts for indicator {key}", column=col)
        if not np.isfinite(price) or price < 0:
            raise InvalidInput(f"cost of {key} must be a number >= 0, got {price}")
        total = total + villages[col].fillna(0).astype("float64") * float(price)
    return total


def _benefit(villages: pd.DataFrame, objective: str) -> np.ndarray:
    if objective in ("poor", "target_poor"):
        return villages[_PEOPLE[objective][0]].fillna(0).to_numpy("float64")
    n_total = float(villages["n_persons"].fillna(0).sum())
    if n_total <= 0:
        return np.zeros(len(villages))
    return villages["sum_c_poor"].fillna(0).to_numpy("float64") / n_total


def solve_knapsack(value: np.ndarray, cost: np.ndarray, budget: float,
                   groups: np.ndarray | None = None, *, time_limit: float = 20.0,
                   ) -> tuple[np.ndarray, str, str, float | None]:
    """0/1 knapsack with optional ">= 1 item of positive value per group" (groups without
    such an item are exempt). Returns (chosen mask, method, note, mip_gap). Raises
    InvalidInput when the group rule cannot be met within the budget."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    value = np.asarray(value, dtype="float64")
    cost = np.asarray(cost, dtype="float64")
    n = len(value)
    if n == 0:
        return np.zeros(0, dtype=bool), "milp", "", 0.0
    rows = [cost[None, :]]
    lo, hi = [-np.inf], [float(budget)]
    uniq: np.ndarray = np.array([])
    if groups is not None:
        # a village that lifts nobody does not count as acting in its amphoe; amphoes with
        # no such village are exempt
        useful = value > 0
        uniq, inv = np.unique(groups[useful], return_inverse=True)
        cols = np.flatnonzero(useful)
        need = sum(cost[cols[inv == g]].min() for g in range(len(uniq)))
        if need > budget + 1e-9:
            raise InvalidInput(
                f"budget {budget:,.0f} THB cannot reach one village in each of {len(uniq)} "
                f"amphoes (needs at least {need:,.0f} THB) / งบประมาณไม่พอให้ได้อย่างน้อย "
                "หนึ่งหมู่บ้านต่ออำเภอ")
        member = np.zeros((len(uniq), n))
        member[inv, cols] = 1.0
        rows.append(member)
        lo += [1.0] * len(uniq)
        hi += [np.inf] * len(uniq)
    constraint = LinearConstraint(np.vstack(rows), lo, hi)
    try:
        res = milp(-value, constraints=constraint, integrality=np.ones(n),
                   bounds=Bounds(0, 1), options={"time_limit": time_limit})
    except (ValueError, MemoryError) as exc:  # pragma: no cover - solver failure
        res = None
        log.warning("milp failed (%s): greedy fallback", exc)
    if res is not None and res.x is not None and res.status in (0, 1):
        chosen = _drop_useless(res.x > 0.5, value)
        if res.status == 0:
            return chosen, "milp", "", float(getattr(res, "mip_gap", 0.0) or 0.0)
        gap = float(getattr(res, "mip_gap", np.nan))
        return chosen, "milp-time-limit", (
            f"HiGHS stopped at the {time_limit:g} s time limit; best solution found, "
            f"MIP gap {gap:.2%}"), gap
    reason = "no feasible solution from HiGHS" if res is not None else "solver error"
    chosen = greedy_knapsack(value, cost, budget, groups)
    return chosen, "greedy", f"{reason}: greedy heuristic (benefit per baht) used", None


def _drop_useless(chosen: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Unselect items that add nothing (the solver is indifferent to them; they never count
    for the group rule): same objective, less money spent."""
    return chosen & (value > 0)


def greedy_knapsack(value: np.ndarray, cost: np.ndarray, budget: float,
                    groups: np.ndarray | None = None) -> np.ndarray:
    """Best benefit per baht first; with groups, first the best-ratio affordable village of
    each group (cheapest if needed). Not optimal in general: the fallback only."""
    n = len(value)
    chosen = np.zeros(n, dtype=bool)
    remaining = float(budget)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(cost > 0, value / np.where(cost > 0, cost, 1), np.inf)
    order = np.lexsort((np.arange(n), -value, -ratio))
    if groups is not None:
        for g in np.unique(groups[value > 0]):
            idx = np.flatnonzero((groups == g) & (value > 0))
            cheapest = idx[np.argmin(cost[idx])]
            chosen[cheapest] = True
            remaining -= cost[cheapest]
    for i in order:
        if not chosen[i] and value[i] > 0 and cost[i] <= remaining + 1e-9:
            chosen[i] = True
            remaining -= cost[i]
    return chosen


def top_of_ranking(cost: np.ndarray, budget: float, rank_order: np.ndarray) -> np.ndarray:
    """Walk down the ranking (indices, best first) taking what still fits."""
    chosen = np.zeros(len(cost), dtype=bool)
    remaining = float(budget)
    for i in rank_order:
        if cost[i] <= remaining + 1e-9:
            chosen[i] = True
            remaining -= cost[i]
    return chosen


def select_villages(villages: pd.DataFrame, *, budget: float, costs: dict[str, float],
                    objective: str = "poor", per_amphoe: bool = False,
                    ranking: pd.DataFrame | None = None, time_limit: float = 20.0,
                    ) -> Selection:
    """Choose villages to maximise people lifted (or the fall in M0) within ``budget`` THB.

    ``villages``: one row per village with ``code``, ``amphoe_code`` (or ``parent_code``
    tambon), ``n_persons``, ``n_poor``, ``sum_c_poor`` and ``n_hh_cdep_<ind>``.
    ``ranking``: output of :func:`service.analysis.rank.rank_areas` for the same villages;
    the comparison walks down it (default: rank by ``n_poor``, then code).
    """
    if objective not in OBJECTIVES:
        raise InvalidInput(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if not np.isfinite(budget) or budget < 0:
        raise InvalidInput(f"budget must be a number >= 0, got {budget}")
    people_col, prefix = _PEOPLE.get(objective, ("n_poor", "n_hh_cdep_"))
    for col in ("code", "n_persons", "n_poor", "sum_c_poor", people_col):
        if col not in villages:
            raise InvalidInput(f"village table lacks column {col}", column=col)
    t0 = time.perf_counter()
    frame = villages.reset_index(drop=True).copy()
    frame["cost_thb"] = village_costs(frame, costs, prefix=prefix)
    frame["benefit"] = _benefit(frame, objective)
    n_total = float(frame["n_persons"].fillna(0).sum())
    groups = None
    if per_amphoe:
        amphoe = frame["amphoe_code"] if "amphoe_code" in frame else frame["code"].str[:6]
        groups = amphoe.astype(str).to_numpy()
    # villages with no benefit are never worth money unless the amphoe rule needs them
    chosen, method, note, gap = solve_knapsack(frame["benefit"].to_numpy(),
                                               frame["cost_thb"].to_numpy(), budget, groups,
                                               time_limit=time_limit)
    seconds = time.perf_counter() - t0
    if method != "milp":
        log.warning("village selection: %s", note)

    if ranking is not None:
        pos = dict(zip(ranking["code"], ranking["priority_rank"], strict=True))
        rank_key = frame["code"].map(pos).fillna(len(frame) + 1).to_numpy()
    else:
        rank_key = (-frame["n_poor"].fillna(0)).rank(method="first").to_numpy()
    rank_order = np.lexsort((frame["code"].to_numpy(), rank_key))
    base = top_of_ranking(frame["cost_thb"].to_numpy(), budget, rank_order)

    def totals(mask: np.ndarray) -> dict[str, Any]:
        sub = frame[mask]
        return {
            "n_selected": int(mask.sum()),
            "total_cost_thb": float(sub["cost_thb"].sum()),
            "total_benefit": float(sub["benefit"].sum()),
            "people_lifted": int(sub[people_col].fillna(0).sum()),
            "m0_fall": float(sub["sum_c_poor"].fillna(0).sum() / n_total) if n_total else 0.0,
        }

    opt, top = totals(chosen), totals(base)
    baseline = {**top,
                "benefit_difference": opt["total_benefit"] - top["total_benefit"],
                "people_lifted_difference": opt["people_lifted"] - top["people_lifted"],
                "m0_fall_difference": opt["m0_fall"] - top["m0_fall"],
                "codes": frame.loc[base, "code"].tolist()}
    selected = frame.loc[chosen].copy()
    if ranking is not None:
        selected["priority_rank"] = selected["code"].map(pos)
    with np.errstate(divide="ignore", invalid="ignore"):
        selected["benefit_per_million_thb"] = np.where(
            selected["cost_thb"] > 0, selected["benefit"] / selected["cost_thb"] * 1e6, np.inf)
    selected = selected.sort_values(["benefit_per_million_thb", "code"],
                                    ascending=[False, True]).reset_index(drop=True)
    return Selection(selected=selected, method=method, objective=objective, budget=float(budget),
                     total_cost=opt["total_cost_thb"], total_benefit=opt["total_benefit"],
                     people_lifted=opt["people_lifted"], m0_fall=opt["m0_fall"],
                     per_amphoe=per_amphoe, note=note, mip_gap=gap, seconds=seconds,
                     baseline=baseline)
