"""KPI dashboard against the master-plan targets, per province and for the country.

The computations are :func:`service.analysis.kpi.kpi_table` (MPI of each target group -10 %
per 5 years, coverage milestones 80/90/100 %); this module adds the number excluded per
programme across rounds, status words that read right for the direction of each measure
(an M0 above its target is "behind", never "below target"), and SVG charts. No Flask here.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import pandas as pd

from service.access.views import suppressed_mask
from service.errors import NotFound
from service.usecases.profile import AreaSource, line_chart, round_versions

#: status -> (Thai, English) per family; MPI and exclusions should fall, coverage rise
STATUS_WORDS = {
    ("mpi", "baseline"): ("ปีฐาน", "baseline"),
    ("mpi", "on_track"): ("ลดลงตามเป้า", "on track (at or below target)"),
    ("mpi", "behind"): ("ยังสูงกว่าเป้า", "behind (above target)"),
    ("coverage", "met_100"): ("ครอบคลุมครบ 100 %", "100 % reached"),
    ("coverage", "met_90"): ("ถึง 90 % ยังไม่ถึง 100 %", "90 % reached, not yet 100 %"),
    ("coverage", "met_80"): ("ถึง 80 % ยังไม่ถึง 90 %", "80 % reached, not yet 90 %"),
    ("coverage", "below_80"): ("ต่ำกว่า 80 %", "below 80 %"),
    ("excluded", "baseline"): ("ปีฐาน", "baseline"),
    ("excluded", "falling"): ("ลดลงจากปีฐาน", "fewer than at baseline"),
    ("excluded", "rising"): ("เพิ่มขึ้นจากปีฐาน", "more than at baseline"),
    ("excluded", "same"): ("เท่าปีฐาน", "as many as at baseline"),
}
NO_DATA = ("ไม่มีข้อมูล", "no data")
GOOD = {"on_track", "met_100", "falling", "baseline"}

KPI_WORDS = {
    "m0": ("M0 ทุกคน", "M0, everyone"), "m0_child": ("M0 เด็ก", "M0, children"),
    "m0_woman": ("M0 ผู้หญิง", "M0, women"), "m0_elderly": ("M0 ผู้สูงอายุ", "M0, elderly"),
    "m0_disabled": ("M0 คนพิการ", "M0, disabled"), "m0_chronic": ("M0 ผู้ป่วยเรื้อรัง",
                                                               "M0, chronically ill"),
}


def status_words(family: str, status: str) -> tuple[str, str]:
    return STATUS_WORDS.get((family, status), NO_DATA)


def _excluded_rows(rounds: list[tuple[int, pd.DataFrame]], base_round: int) -> list[dict]:
    base = dict(rounds).get(base_round)
    base_idx = base.set_index("code") if base is not None else None
    rows = []
    for rnd, table in rounds:
        for p in [c[len("n_excl_"):] for c in table.columns if str(c).startswith("n_excl_")]:
            col = f"n_excl_{p}"
            for _, area in table.iterrows():
                value = area.get(col)
                value = float(value) if value is not None and not pd.isna(value) else np.nan
                b = (float(base_idx.at[area["code"], col])
                     if base_idx is not None and area["code"] in base_idx.index
                     and not pd.isna(base_idx.at[area["code"], col]) else np.nan)
                if not np.isfinite(value):
                    status = "no_data"
                elif rnd == base_round:
                    status = "baseline"
                elif not np.isfinite(b):
                    status = "no_data"
                else:
                    status = "falling" if value < b else "rising" if value > b else "same"
                rows.append({"province_code": area["code"], "name_th": area.get("name_th"),
                             "round": int(rnd), "years_since_baseline": int(rnd - base_round),
                             "kpi": col, "family": "excluded", "group": p, "value": value,
                             "baseline_value": b, "target_value": np.nan,
                             "change_pct": (100 * (value - b) / b) if b else np.nan,
                             "status": status})
    return rows


def kpi_dashboard(src: AreaSource, province: str | None, *,
                  baseline_round: int | None = None) -> dict[str, Any]:
    """KPIs of the country and of ``province`` (None: the country only) in every round."""
    from service.analysis.kpi import kpi_table
    from service.usecases.exclusion import programme_info

    versions = round_versions(src.store, src.dataset)
    if not versions:
        raise NotFound(f"dataset {src.dataset!r} has no ready version / ไม่พบชุดข้อมูล")
    from service.usecases import published  # published tables (TPMAP hook): no persons

    if published.version_kind(versions[-1]) == "published":
        return published.kpi_dashboard(src, province, versions, baseline_round=baseline_round)
    rounds, provinces = round_tables(src, versions, province)
    base = baseline_round or rounds[0][0]
    table = kpi_table(rounds, baseline_round=base)
    table = pd.concat([table, pd.DataFrame(_excluded_rows(rounds, base))], ignore_index=True)
    if "kpi" not in table:  # e.g. published tables (TPMAP): none of the KPI measures
        raise NotFound("this dataset has none of the KPI measures (they need person records) "
                       "/ ชุดข้อมูลนี้ไม่มีตัวชี้วัด KPI (ต้องใช้ข้อมูลรายบุคคล)")
    names = {p["id"]: (p["th"], p["en"]) for p in programme_info()}
    th, en = [], []
    for kpi, group, family in zip(table["kpi"], table["group"], table["family"],
                                  strict=True):
        if family == "mpi":
            w = KPI_WORDS.get(kpi, (kpi, kpi))
        elif family == "coverage":
            n = names.get(group, (group, group))
            w = (f"ความครอบคลุม{n[0]}", f"Coverage: {n[1]}")
        else:
            n = names.get(group, (group, group))
            w = (f"คนตกหล่น{n[0]}", f"Excluded: {n[1]}")
        th.append(w[0])
        en.append(w[1])
    table["kpi_th"], table["kpi_en"] = th, en
    words = [status_words(f, s) for f, s in zip(table["family"], table["status"], strict=True)]
    table["status_th"] = [w[0] for w in words]
    table["status_en"] = [w[1] for w in words]
    table["good"] = [s in GOOD for s in table["status"]]
    order = {"mpi": 0, "coverage": 1, "excluded": 2}
    table = table.assign(_f=table["family"].map(order)).sort_values(
        ["province_code", "_f", "kpi", "round"], kind="stable").drop(columns="_f")
    table = table.reset_index(drop=True)
    round_list = [r for r, _ in rounds]
    areas = []
    for code in ["TH", *([province] if province else [])]:
        sub = table[table["province_code"] == code]
        if sub.empty:
            continue
        name = sub["name_th"].dropna().iloc[0] if sub["name_th"].notna().any() else code
        kpis = []
        for (family, kpi), rows in sub.groupby(["family", "kpi"], sort=False):
            by_round = {int(r["round"]): r for r in rows.to_dict("records")}
            kpis.append({"family": family, "kpi": kpi, "th": rows["kpi_th"].iloc[0],
                         "en": rows["kpi_en"].iloc[0],
                         "cells": [by_round.get(rnd) for rnd in round_list]})
        m0 = sub[sub["kpi"] == "m0"].set_index("round")
        chart = None
        if len(round_list) >= 1 and not m0.empty:
            chart = line_chart(round_list, [
                {"id": "m0", "th": "M0", "en": "M0", "color": "#c0392b",
                 "values": [_f(m0, r, "value") for r in round_list]},
                {"id": "target", "th": "เป้าหมาย (ลด 10 % ต่อ 5 ปี)",
                 "en": "target (-10 % per 5 years)", "color": "#1f6feb", "dash": True,
                 "values": [_f(m0, r, "target_value") for r in round_list]}], fmt="ratio")
        areas.append({"code": code, "name_th": "ประเทศไทย" if code == "TH" else name,
                      "kpis": kpis, "chart": chart})
    return {"rounds": round_list, "baseline_round": base, "table": table, "areas": areas,
            "province": province, "provinces": provinces,
            "version": versions[-1]}


def _f(frame: pd.DataFrame, rnd: int, col: str) -> float | None:
    if rnd not in frame.index:
        return None
    v = frame.at[rnd, col]
    return None if v is None or pd.isna(v) else float(v)


#: columns of the exported KPI table
EXPORT_COLUMNS = ("province_code", "name_th", "round", "years_since_baseline", "kpi",
                  "kpi_th", "kpi_en", "value", "baseline_value", "target_value",
                  "change_pct", "status_th", "status_en")


def round_tables(src: Any, versions: list[Any], province: str | None
                 ) -> tuple[list[tuple[int, pd.DataFrame]], list[dict[str, str]]]:
    """Per round, the country row (and ``province``'s row) the caller may see, suppressed rows
    left out, and the provinces of the newest round that has them (for the selector)."""
    rounds: list[tuple[int, pd.DataFrame]] = []
    provinces: list[dict[str, str]] = []
    for v in versions:
        parts = []
        with contextlib.suppress(NotFound):
            parts.append(src.read(v.id, "country", None))
        with contextlib.suppress(NotFound):
            prov = src.read(v.id, "province", None)
            provinces = [{"code": c, "name_th": n or c} for c, n in
                         zip(prov["code"], prov.get("name_th", prov["code"]), strict=True)]
            if province:
                parts.append(prov[prov["code"] == province])
        if parts:
            table = pd.concat(parts, ignore_index=True)
            table = table[~suppressed_mask(table)]
            rounds.append((int(v.round), table.reset_index(drop=True)))
    if not rounds:
        raise NotFound("no area tables to compute KPIs from / ไม่มีตารางพื้นที่")
    return rounds, provinces
