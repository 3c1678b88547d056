"""Master-plan KPI tracking per province across survey rounds.

Two families of KPI:

* **MPI per target group** (``m0``, ``m0_child``, ``m0_woman``, ``m0_elderly``,
  ``m0_disabled``, ``m0_chronic``) against the master plan's target of a 10 % fall per five
  years, pro-rated linearly from the baseline round:
  ``target = baseline * (1 - 0.10 * years_since_baseline / 5)``. Rounds are Buddhist-era
  years (2561, 2566, ...). ``status`` is ``on_track`` when the value is at or below the target,
  ``behind`` otherwise, ``baseline`` on the baseline round and ``no_data`` when the group has
  no members.
* **Programme coverage** (``cov_<programme>`` = covered / eligible, from summed counts) against
  the 80 / 90 / 100 % milestones: ``status`` is the highest milestone met (``met_100``,
  ``met_90``, ``met_80``) or ``below_80``.

Ratios come from the area tables, where they were computed from summed counts; nothing here
averages ratios.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from service import vocabulary
from service.errors import InvalidInput

GROUPS = tuple(vocabulary.GROUPS)
PROGRAMMES = tuple(vocabulary.PROGRAMMES)
COVERAGE_MILESTONES = (1.0, 0.9, 0.8)
STATUS_TH = {
    "baseline": "ปีฐาน", "on_track": "เป็นไปตามเป้า", "behind": "ต่ำกว่าเป้า",
    "no_data": "ไม่มีข้อมูล", "met_100": "ถึง 100 %", "met_90": "ถึง 90 %",
    "met_80": "ถึง 80 %", "below_80": "ต่ำกว่า 80 %",
}


def mpi_target(baseline: float, years: float, *, fall: float = 0.10,
               period_years: float = 5.0) -> float:
    """Pro-rated master-plan target for M0 ``years`` after the baseline."""
    return baseline * (1.0 - fall * years / period_years)


def kpi_table(rounds: Sequence[tuple[int, pd.DataFrame]], *, baseline_round: int | None = None,
              fall: float = 0.10, period_years: float = 5.0) -> pd.DataFrame:
    """Long table of KPIs: one row per (province, round, kpi).

    ``rounds``: (round, province-level area table) pairs, any order. ``baseline_round``:
    default the earliest round given.
    """
    if not rounds:
        raise InvalidInput("no survey round to compute KPIs from / ไม่มีข้อมูลรอบสำรวจ")
    by_round = sorted(rounds, key=lambda r: r[0])
    base_round = by_round[0][0] if baseline_round is None else baseline_round
    if base_round not in {r for r, _ in by_round}:
        known = ", ".join(str(r) for r, _ in by_round)
        raise InvalidInput(f"baseline round {base_round} is not among the rounds ({known}) "
                           f"/ รอบฐาน {base_round} ไม่อยู่ในรอบสำรวจที่มี ({known})",
                           column="baseline_round")
    base = dict(by_round)[base_round].set_index("code")
    rows: list[dict] = []
    for rnd, table in by_round:
        if "code" not in table:
            raise InvalidInput(f"round {rnd}: area table has no 'code' column", column="code")
        years = rnd - base_round
        for _, area in table.iterrows():
            code = area["code"]
            ident = {"province_code": code, "name_th": area.get("name_th", ""),
                     "round": int(rnd), "years_since_baseline": int(years)}
            for grp in ("all",) + GROUPS:
                col = "m0" if grp == "all" else f"m0_{grp}"
                if col not in table:
                    continue
                value = _num(area[col])
                b = _num(base.at[code, col]) if code in base.index and col in base else np.nan
                target = mpi_target(b, years, fall=fall, period_years=period_years)
                if not np.isfinite(value):
                    status = "no_data"
                elif rnd == base_round:
                    status = "baseline"
                elif not np.isfinite(target):
                    status = "no_data"
                else:
                    status = "on_track" if value <= target + 1e-12 else "behind"
                rows.append({**ident, "kpi": col, "family": "mpi", "group": grp,
                             "value": value, "baseline_value": b, "target_value": target,
                             "change_pct": _pct(value, b), "status": status})
            for p in PROGRAMMES:
                col = f"cov_{p}"
                if col not in table:
                    continue
                value = _num(area[col])
                b = _num(base.at[code, col]) if code in base.index and col in base else np.nan
                status = "no_data" if not np.isfinite(value) else next(
                    (f"met_{round(m * 100)}" for m in COVERAGE_MILESTONES if value >= m - 1e-12),
                    "below_80")
                rows.append({**ident, "kpi": col, "family": "coverage", "group": p,
                             "value": value, "baseline_value": b, "target_value": 0.8,
                             "change_pct": _pct(value, b), "status": status})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["status_th"] = out["status"].map(STATUS_TH)
    return out.sort_values(["province_code", "family", "kpi", "round"]).reset_index(drop=True)


def _num(v: object) -> float:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
    return f


def _pct(value: float, base: float) -> float:
    if not (np.isfinite(value) and np.isfinite(base)) or base == 0:
        return float("nan")
    return 100.0 * (value - base) / base
