"""Programme eligibility in words, and exclusion lists (ตกหล่น: eligible, not covered).

* :func:`rule_words` — a programme's eligibility rule (``presets/programmes.json``) as Thai and
  English sentences, so every page states the rule it counts by.
* :func:`programme_rows` — eligible / covered / excluded / coverage per programme of one area
  row, with the rule in words (profile page, lists page).
* :func:`exclusion_list` — for follow-up officers (authorised callers only; the route audits
  it): one row per household with at least one member eligible for the programme and not
  covered, filterable by area and by deprivation dimension, ordered by greatest need first.

No Flask here.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from service.errors import InvalidInput

#: rule columns in words (Thai, English)
COLUMN_WORDS: dict[str, tuple[str, str]] = {
    "age": ("อายุ", "age"),
    "income_per_person_thb": ("รายได้เฉลี่ยต่อคนต่อปีของครัวเรือน (บาท)",
                              "household income per person per year (THB)"),
    "disabled": ("เป็นคนพิการ (มีบัตรประจำตัวคนพิการ)", "has a disability (disability card)"),
    "informal_worker": ("เป็นแรงงานนอกระบบ", "works in the informal sector"),
    "social_security": ("มีประกันสังคม", "is insured with social security"),
    "welfare_card": ("ถือบัตรสวัสดิการแห่งรัฐ", "holds a state welfare card"),
}
OP_WORDS = {">=": ("ตั้งแต่", "at least"), "<=": ("ไม่เกิน", "at most"),
            ">": ("มากกว่า", "more than"), "<": ("น้อยกว่า", "less than"),
            "==": ("เท่ากับ", "equal to"), "!=": ("ไม่เท่ากับ", "not equal to")}

#: what each programme's rule leaves out because the data has no such field
#: (Thai, English); stated beside the rule
RULE_LIMITS: dict[str, tuple[str, str]] = {
    "welfare_card": (
        "เกณฑ์จริงมีเงื่อนไขทรัพย์สิน (เงินฝาก ที่ดิน บ้าน) ด้วย ซึ่งข้อมูล จปฐ. ไม่มี "
        "จึงใช้เฉพาะอายุและรายได้",
        "The published criteria also test assets (savings, land, housing), which the survey "
        "does not record: only age and income are applied."),
    "social_security": (
        "นับเฉพาะคนวัยทำงานที่ทำงาน (ในระบบหรือนอกระบบ)",
        "Counts working-age people in work (formal or informal) only."),
}


def _num(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return f"{v:,}" if isinstance(v, int) else str(v)


def _words(rule: Any) -> tuple[str, str]:
    if not isinstance(rule, Mapping):
        return str(rule), str(rule)
    for key, (th_join, en_join) in (("all", (" และ ", " and ")), ("any", (" หรือ ", " or "))):
        if key in rule:
            parts = [_words(r) for r in rule[key]]
            wrap = (lambda s: s) if len(parts) == 1 else (lambda s: f"({s})")
            th = th_join.join(p[0] for p in parts)
            en = en_join.join(p[1] for p in parts)
            return (th, en) if key == "all" else (wrap(th), wrap(en))
    if "not" in rule:
        th, en = _words(rule["not"])
        return f"ไม่ใช่กรณี {th}", f"not ({en})"
    col = str(rule.get("column", "?"))
    th_col, en_col = COLUMN_WORDS.get(col, (col, col))
    op, value = rule.get("op"), rule.get("value")
    if op is None:
        return th_col, en_col
    if op == "between" and isinstance(value, list | tuple) and len(value) == 2:
        return (f"{th_col} {_num(value[0])}-{_num(value[1])}",
                f"{en_col} {_num(value[0])}-{_num(value[1])}")
    th_op, en_op = OP_WORDS.get(str(op), (str(op), str(op)))
    return f"{th_col} {th_op} {_num(value)}", f"{en_col} {en_op} {_num(value)}"


def rule_words(rule: Any) -> tuple[str, str]:
    """An eligibility rule in words: ``({"column": "age", "op": ">=", "value": 60})`` ->
    ``("อายุ ตั้งแต่ 60", "age at least 60")`` (Thai, English)."""
    return _words(rule)


@functools.lru_cache(maxsize=8)
def programmes(source: str | None = None):
    from service.analysis.coverage import load_programmes

    return load_programmes(None if source in (None, "default") else source)


def programme_info(source: str | None = None) -> list[dict[str, Any]]:
    """Every programme of the rules file: id, labels, eligibility in words, data limits."""
    out = []
    for p in programmes(source).programmes:
        th, en = rule_words(p.eligible)
        limit = RULE_LIMITS.get(p.name, ("", ""))
        out.append({"id": p.name, "th": p.label_th or p.name, "en": p.label_en or p.name,
                    "rule_th": th, "rule_en": en, "limit_th": limit[0], "limit_en": limit[1]})
    return out


def _plain(value: Any) -> float | None:
    """A number or None (pandas NA/NaN and nulls from disclosure control)."""
    if value is None or pd.isna(value):
        return None
    return float(value)


def programme_rows(row: Mapping[str, Any], source: str | None = None) -> list[dict[str, Any]]:
    """Eligible, covered, excluded and coverage of each programme in an area row (counts
    from the area table; coverage = covered-and-eligible / eligible from summed counts)."""
    out = []
    for info in programme_info(source):
        p = info["id"]
        if f"n_elig_{p}" not in row:
            continue
        out.append({**info, "eligible": _plain(row.get(f"n_elig_{p}")),
                    "covered": _plain(row.get(f"n_cov_{p}")),
                    "excluded": _plain(row.get(f"n_excl_{p}")),
                    "coverage": _plain(row.get(f"cov_{p}")),
                    "inclusion_errors": _plain(row.get(f"n_incl_err_{p}"))})
    return out


#: exclusion-list orders: id -> (Thai, English)
ORDERS = {
    "need": ("ความจำเป็นมากที่สุดก่อน (คะแนนความขาดแคลนสูงสุด)",
             "Greatest need first (highest deprivation score)"),
    "excluded": ("สมาชิกตกหล่นมากที่สุดก่อน", "Most excluded members first"),
    "village": ("เรียงตามหมู่บ้าน", "By village"),
}


def exclusion_list(persons: pl.DataFrame, programme: str, *, area: str | None = None,
                   dimension: str | None = None, order: str = "need",
                   dimensions: Mapping[str, tuple[str, ...]] | None = None) -> pd.DataFrame:
    """Households with a member eligible for ``programme`` and not covered (ตกหล่น).

    ``area``: a province, amphoe, tambon or village code (where the aggregation counts the
    person, :func:`service.analysis.targets.area_filter`). ``dimension``: keep households
    with a member deprived in that dimension (``dimensions`` maps it to its indicators).
    ``order``: ``need`` (default: highest member deprivation score ``max_c``, then most
    excluded members, then id), ``excluded`` or ``village``. Personal data: pseudonymous
    household ids only; the caller checks the role and audits.
    """
    from service.analysis.targets import area_filter

    elig, cov = f"elig_{programme}", f"cov_{programme}"
    if elig not in persons.columns or cov not in persons.columns:
        raise InvalidInput(f"programme {programme!r} is not scored in this dataset "
                           f"/ ชุดข้อมูลนี้ไม่มีโครงการ {programme!r}", column="programme")
    if order not in ORDERS:
        raise InvalidInput(f"order must be one of {', '.join(ORDERS)} / ลำดับไม่ถูกต้อง",
                           column="order")
    frame = persons
    if area:
        frame = frame.filter(area_filter(frame.columns, area))
    cols = frame.columns
    excluded = pl.col(elig).fill_null(False) & ~pl.col(cov).fill_null(False)
    inds = sorted((c[4:] for c in cols if c.startswith("dep_ind")),
                  key=lambda s: int(s[3:]) if s[3:].isdigit() else 0)
    aggs = [
        pl.col("village_id").first(),
        *[pl.col(c).first() for c in ("tambon_code", "amphoe_code", "province_code")
          if c in cols],
        pl.len().alias("n_members"),
        excluded.cast(pl.Int32).sum().alias("n_excluded"),
        pl.col(elig).fill_null(False).cast(pl.Int32).sum().alias("n_eligible"),
        pl.col("mpi_c").max().alias("max_c") if "mpi_c" in cols else pl.lit(None).alias("max_c"),
        (pl.col("mpi_poor").fill_null(False).any() if "mpi_poor" in cols
         else pl.lit(False)).alias("hh_poor"),
        *[(pl.col(f"dep_{i}").fill_null(0) > 0).any().alias(f"hh_dep_{i}") for i in inds],
    ]
    if "age" in cols:
        aggs.append(pl.when(excluded).then(pl.col("age")).otherwise(None)
                    .drop_nulls().sort().cast(pl.Utf8).str.join(", ").alias("excluded_ages"))
    hh = frame.group_by("hh_id").agg(aggs).filter(pl.col("n_excluded") > 0).to_pandas()
    if dimension:
        dims = dimensions or {}
        if dimension not in dims:
            raise InvalidInput(f"dimension must be one of {', '.join(dims)} / มิติไม่ถูกต้อง",
                               column="dimension")
        keep = [f"hh_dep_{i}" for i in dims[dimension] if f"hh_dep_{i}" in hh]
        hh = hh[hh[keep].any(axis=1)] if keep else hh.iloc[0:0]
    dep_cols = [f"hh_dep_{i}" for i in inds]
    dep = hh[dep_cols].to_numpy(bool) if dep_cols else np.zeros((len(hh), 0), bool)
    hh = hh.assign(n_deprivations=dep.sum(axis=1).astype("int64"),
                   failing_indicators=[", ".join(inds[j] for j in np.flatnonzero(r))
                                       for r in dep],
                   max_c=hh["max_c"].astype("float64").round(4))
    keys = {"need": (["max_c", "n_deprivations", "n_excluded", "hh_id"],
                     [False, False, False, True]),
            "excluded": (["n_excluded", "max_c", "hh_id"], [False, False, True]),
            "village": (["village_id", "hh_id"], [True, True])}[order]
    hh = hh.sort_values(keys[0], ascending=keys[1], kind="stable", na_position="last")
    hh = hh.drop(columns=dep_cols).reset_index(drop=True)
    hh.insert(0, "order", np.arange(1, len(hh) + 1, dtype="int64"))
    return hh
