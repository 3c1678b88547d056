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


# -- progress over the real sequence of rounds -------------------------------------------------
#: direction of each KPI family: "fall" (lower is better) or "rise"
DIRECTION = {"mpi": "fall", "coverage": "rise", "excluded": "fall"}
PROGRESS_STATUS = {
    # (status, direction) -> (th, en)
    ("baseline", "fall"): ("ปีฐาน", "baseline"),
    ("baseline", "rise"): ("ปีฐาน", "baseline"),
    ("achieved", "fall"): ("ลดลงถึงเป้าแล้ว", "fell to the target"),
    ("achieved", "rise"): ("ถึงเป้าแล้ว", "target reached"),
    ("on_track", "fall"): ("ลดลงตามเป้า", "falling on track"),
    ("on_track", "rise"): ("เพิ่มขึ้นตามเป้า", "rising on track"),
    ("slow", "fall"): ("ลดลงช้ากว่าเป้า", "falling, too slowly"),
    ("slow", "rise"): ("เพิ่มขึ้นช้ากว่าเป้า", "rising, too slowly"),
    ("wrong_way", "fall"): ("เพิ่มขึ้น สวนทางเป้า", "rising, against the target"),
    ("wrong_way", "rise"): ("ลดลง สวนทางเป้า", "falling, against the target"),
    ("flat", "fall"): ("ไม่เปลี่ยนแปลง ต่ำกว่าเป้า", "unchanged, behind"),
    ("flat", "rise"): ("ไม่เปลี่ยนแปลง ต่ำกว่าเป้า", "unchanged, behind"),
    ("no_data", "fall"): ("ไม่มีข้อมูล", "no data"),
    ("no_data", "rise"): ("ไม่มีข้อมูล", "no data"),
}
#: statuses that count as "behind" (the others: baseline, achieved, on_track, no_data)
BEHIND = ("slow", "wrong_way", "flat")


def progress_target(family: str, baseline: float, years: float, *, fall: float = 0.10,
                    period_years: float = 5.0) -> float:
    """Where a KPI should be ``years`` after the baseline on the master plan's straight path:
    MPI -10 % per 5 years; coverage from the baseline to 100 % in 5 years; the number excluded
    from the baseline to 0 in 5 years (``years`` beyond the period keep the end value)."""
    share = min(max(years / period_years, 0.0), 1.0) if family != "mpi" else years / period_years
    if family == "mpi":
        return baseline * (1.0 - fall * share)
    if family == "coverage":
        return baseline + (1.0 - baseline) * share
    return baseline * (1.0 - share)


def _kpi_columns(table: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(column, family, group or programme) of the KPIs a table carries."""
    out: list[tuple[str, str, str]] = []
    for grp in ("all",) + GROUPS:
        col = "m0" if grp == "all" else f"m0_{grp}"
        if col in table:
            out.append((col, "mpi", grp))
    for p in PROGRAMMES:
        if f"cov_{p}" in table:
            out.append((f"cov_{p}", "coverage", p))
        if f"n_excl_{p}" in table:
            out.append((f"n_excl_{p}", "excluded", p))
    return out


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return float("nan")
    x, y = x[ok].astype(float), y[ok]
    if np.ptp(x) == 0:
        return float("nan")
    return float(np.polyfit(x, y, 1)[0])


def kpi_progress(rounds: Sequence[tuple[int, pd.DataFrame]], *,
                 baseline_round: int | None = None, fall: float = 0.10,
                 period_years: float = 5.0) -> pd.DataFrame:
    """One row per (area, KPI) over the real sequence of rounds.

    ``rounds``: (round, area table) pairs (any level, e.g. the country row and the
    provinces). Columns: code, name_th, name_en, kpi, family (mpi / coverage / excluded),
    group, direction (fall / rise), baseline_round, baseline_value, latest_round,
    latest_value, target_round (baseline + 5 years), target_value (the 5-year target),
    expected_now (the straight path at the latest round), change (latest - baseline),
    pace_observed (least-squares change per year over all rounds), pace_needed (change per
    year from the latest value to the target in the years left; when none are left, the gap
    itself), status (baseline, achieved, on_track, slow, wrong_way, flat, no_data), behind
    (bool), status_th, status_en, trend ([{round, value}] of every round, oldest first).

    ``on_track``: at or better than the straight path from the baseline to the target;
    ``achieved``: at or better than the 5-year target itself; otherwise behind, worded by
    the direction of the observed change (for measures that should fall, a rise is
    "against the target").
    """
    if not rounds:
        raise InvalidInput("no survey round to compute KPIs from / ไม่มีข้อมูลรอบสำรวจ")
    by_round = sorted(rounds, key=lambda r: r[0])
    known = [r for r, _ in by_round]
    base_round = known[0] if baseline_round is None else baseline_round
    if base_round not in known:
        listed = ", ".join(str(r) for r in known)
        raise InvalidInput(f"baseline round {base_round} is not among the rounds ({listed}) "
                           f"/ รอบฐาน {base_round} ไม่อยู่ในรอบสำรวจที่มี ({listed})",
                           column="baseline_round")
    used = [(r, t) for r, t in by_round if r >= base_round]
    for rnd, table in used:
        if "code" not in table:
            raise InvalidInput(f"round {rnd}: area table has no 'code' column", column="code")
    kpis = _kpi_columns(used[0][1])
    codes: list[str] = []
    names: dict[str, tuple[str, str]] = {}
    for _, table in used:
        for row in table.itertuples(index=False):
            code = str(row.code)
            if code not in names:
                codes.append(code)
            names[code] = (str(getattr(row, "name_th", "") or ""),
                           str(getattr(row, "name_en", "") or ""))
    series = {rnd: table.set_index(table["code"].astype(str)) for rnd, table in used}
    x = np.array([r for r, _ in used], dtype=float)
    rows: list[dict] = []
    for code in codes:
        for col, family, group in kpis:
            y = np.array([_num(series[r].at[code, col]) if code in series[r].index
                          and col in series[r] else np.nan for r, _ in used])
            rows.append(_progress_row(code, names[code], col, family, group, x, y,
                                      base_round, fall=fall, period_years=period_years))
    return pd.DataFrame(rows)


def _progress_row(code: str, name: tuple[str, str], col: str, family: str, group: str,
                  x: np.ndarray, y: np.ndarray, base_round: int, *, fall: float,
                  period_years: float) -> dict:
    direction = DIRECTION[family]
    sign = -1.0 if direction == "fall" else 1.0  # sign * value: higher is better
    have = np.flatnonzero(np.isfinite(y))
    base = float(y[0])
    row: dict = {"code": code, "name_th": name[0], "name_en": name[1], "kpi": col,
                 "family": family, "group": group, "direction": direction,
                 "baseline_round": base_round, "baseline_value": base,
                 "target_round": int(base_round + period_years),
                 "trend": [{"round": int(r), "value": (float(v) if np.isfinite(v) else None)}
                           for r, v in zip(x, y, strict=True)]}
    latest_i = int(have[-1]) if len(have) else 0
    latest_round, latest = int(x[latest_i]), float(y[latest_i])
    years = latest_round - base_round
    target = progress_target(family, base, period_years, fall=fall, period_years=period_years)
    expected = progress_target(family, base, years, fall=fall, period_years=period_years)
    left = base_round + period_years - latest_round
    gap = target - latest
    row.update(latest_round=latest_round, latest_value=latest, target_value=target,
               expected_now=expected, change=latest - base,
               pace_observed=_slope(x, y),
               pace_needed=(gap / left) if left > 0 else gap)
    eps = 1e-12
    if not (np.isfinite(base) and np.isfinite(latest)):
        status = "no_data"
    elif latest_round == base_round:
        status = "baseline"
    elif sign * latest >= sign * target - eps:
        status = "achieved"
    elif sign * latest >= sign * expected - eps:
        status = "on_track"
    elif abs(latest - base) <= eps:
        status = "flat"
    elif sign * (latest - base) > 0:
        status = "slow"
    else:
        status = "wrong_way"
    th, en = PROGRESS_STATUS[(status, direction)]
    row.update(status=status, behind=status in BEHIND, status_th=th, status_en=en)
    return row
