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

from service.errors import InvalidInput, NotFound

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


# -- lists for the pages -------------------------------------------------------------------
HOUSEHOLD_ORDERS = {
    "need": ("ความจำเป็นมากที่สุดก่อน", "Greatest need first"),
    "exit": ("ใกล้พ้นความยากจนที่สุดก่อน (แก้น้อยข้อ)", "Nearest to exit first (fewest needs)"),
    "village": ("เรียงตามหมู่บ้าน", "By village"),
}
VILLAGE_ORDERS = {
    "priority": ("ลำดับความสำคัญ", "Priority rank"),
    "n_poor": ("คนจนมากที่สุดก่อน", "Most poor people first"),
    "n_target_poor": ("คนจนเป้าหมายมากที่สุดก่อน", "Most target poor first"),
}


def dimension_indicators(spec: Any) -> dict[str, tuple[str, ...]]:
    return {d.name: tuple(i.name for i in spec.indicators if i.dimension == d.name)
            for d in spec.dimensions}


def _labels(spec: Any) -> dict[str, tuple[str, str]]:
    out = {i.name: (i.label_th, i.label_en) for i in spec.indicators}
    for p in programme_info():
        out[f"rights:{p['id']}"] = (f"สิทธิ{p['th']}", f"right to the {p['en']}")
        out[p["id"]] = (p["th"], p["en"])
    return out


def _in_words(codes: str, labels: Mapping[str, tuple[str, str]], lang: int) -> str:
    items = [c.strip() for c in str(codes or "").split(",") if c.strip()]
    return "; ".join(labels.get(c, (c, c))[lang] for c in items)


def household_rows(persons: pl.DataFrame, area: str, spec: Any, *, order: str = "need",
                   dimension: str | None = None) -> pd.DataFrame:
    """The household target list of ``area`` for people: plan horizons and missed
    programmes in words (Thai and English), ordered by greatest need by default (highest
    member deprivation score, then most indicators failed), or ``exit`` (nearest to exit
    first, the ministry's step-4 order) or ``village``; optionally only households deprived
    in ``dimension``. Personal data: the caller checks the role and audits."""
    from service.analysis.targets import household_list

    if order not in HOUSEHOLD_ORDERS:
        raise InvalidInput(f"order must be one of {', '.join(HOUSEHOLD_ORDERS)} "
                           "/ ลำดับไม่ถูกต้อง", column="order")
    frame = household_list(persons, area=area)
    frame = frame.drop(columns=[c for c in ("lon", "lat") if c in frame])
    if dimension:
        dims = dimension_indicators(spec)
        if dimension not in dims:
            raise InvalidInput(f"dimension must be one of {', '.join(dims)} / มิติไม่ถูกต้อง",
                               column="dimension")
        wanted = set(dims[dimension])
        keep = [bool(wanted & {c.strip() for c in str(f).split(",")})
                for f in frame["failing_indicators"]]
        frame = frame[keep]
    labels = _labels(spec)
    for h in ("urgent", "medium", "long"):
        col = f"plan_{h}"
        if col in frame:
            frame[f"{col}_th"] = [_in_words(v, labels, 0) for v in frame[col]]
            frame[f"{col}_en"] = [_in_words(v, labels, 1) for v in frame[col]]
    frame["missed_programmes_th"] = [_in_words(v, labels, 0) for v in frame["missed_programmes"]]
    frame["missed_programmes_en"] = [_in_words(v, labels, 1) for v in frame["missed_programmes"]]
    listed = {"mpi": "จนหลายมิติ · MPI poor", "tpmap": "คนจนเป้าหมาย TPMAP · TPMAP target poor",
              "both": "ทั้งสองเกณฑ์ · both"}
    frame["listed_by"] = frame["listed_by"].map(lambda v: listed.get(v, v))
    keys = {"need": (["max_c", "n_deprivations", "hh_id"], [False, False, True]),
            "exit": (["visit_order"], [True]),
            "village": (["village_id", "hh_id"], [True, True])}[order]
    frame = frame.sort_values(keys[0], ascending=keys[1], kind="stable").reset_index(drop=True)
    frame["order"] = np.arange(1, len(frame) + 1, dtype="int64")
    return frame


#: household list columns for people (codes stay in the definitions sheet)
HOUSEHOLD_COLUMNS = ("order", "hh_id", "village_id", "village_name", "tambon_name",
                     "amphoe_name", "n_members", "n_poor_members", "max_c", "n_deprivations",
                     "failing_labels_th", "plan_urgent_th", "plan_medium_th", "plan_long_th",
                     "missed_programmes_th", "listed_by", "failing_labels_en",
                     "plan_urgent_en", "plan_medium_en", "plan_long_en",
                     "missed_programmes_en", "visit_order")
EXCLUSION_COLUMNS = ("order", "hh_id", "village_id", "village_name", "tambon_name",
                     "amphoe_name", "n_members", "n_eligible", "n_excluded", "excluded_ages",
                     "max_c", "n_deprivations", "failing_indicators")


def with_names(frame: pd.DataFrame, names: Mapping[str, str],
               code_col: str = "village_id") -> pd.DataFrame:
    """Village, tambon and amphoe names beside the codes (from the area tables)."""
    code = frame[code_col].astype(str) if code_col in frame else pd.Series(dtype=str)
    out = frame.copy()
    out["village_name"] = code.map(lambda c: names.get(c, ""))
    out["tambon_name"] = code.str[:8].map(lambda c: names.get(c, ""))
    out["amphoe_name"] = code.str[:6].map(lambda c: names.get(c, ""))
    return out


def village_rows(villages: pd.DataFrame, area: str, spec: Any, *,
                 previous: pd.DataFrame | None = None, names: Mapping[str, str] | None = None,
                 order: str = "priority", dimension: str | None = None) -> pd.DataFrame:
    """The village target list (public: suppressed villages last, no figures), ranked by
    priority by default or by poor / target-poor people; ``dimension`` keeps villages whose
    poor people fail an indicator of it and adds their number (``n_poor_in_dimension``)."""
    from service.export.targets import village_targets

    if order not in VILLAGE_ORDERS:
        raise InvalidInput(f"order must be one of {', '.join(VILLAGE_ORDERS)} "
                           "/ ลำดับไม่ถูกต้อง", column="order")
    frame = village_targets(villages, area, previous=previous, names=names)
    frame = frame.drop(columns=[c for c in ("lon", "lat") if c in frame])
    if dimension:
        dims = dimension_indicators(spec)
        if dimension not in dims:
            raise InvalidInput(f"dimension must be one of {', '.join(dims)} / มิติไม่ถูกต้อง",
                               column="dimension")
        by_code = villages.set_index(villages["code"].astype(str))
        cols = [f"n_cdep_{i}" for i in dims[dimension] if f"n_cdep_{i}" in by_code]
        out = "n_poor_in_dimension"
        if not cols and f"n_target_poor_{dimension}" in by_code:  # published tables (TPMAP):
            out = f"n_target_poor_{dimension}"  # the target poor deprived in the dimension
            cols = [out]
        worst = by_code[cols].max(axis=1) if cols else pd.Series(0, index=by_code.index)
        frame[out] = frame["village_id"].map(worst)
        frame = frame[(frame[out].fillna(0) > 0) | frame["suppressed"]]
    if order != "priority" and order in frame:
        frame = frame.sort_values(["suppressed", order, "village_id"],
                                  ascending=[True, False, True], kind="stable")
    return frame.reset_index(drop=True)


LIST_KINDS = ("villages", "households", "excluded")


def area_names(src: Any, version: str, province: str) -> dict[str, str]:
    """code -> Thai name for the province, its amphoes, tambons and villages (public
    identity columns of the area tables)."""
    from service.analysis.targets import names_from_areas

    names: dict[str, str] = {}
    for lvl in ("province", "amphoe", "tambon", "village"):
        try:
            frame = src.store.read_areas(src.dataset, lvl, version=version,
                                         province=None if lvl == "province" else province,
                                         columns=["code", "name_th", "name_en"])
        except (NotFound, TypeError):
            continue
        names.update(names_from_areas(frame))
    return names


def target_list(src: Any, kind: str, area: str, *, version_id: str | None = None,
                order: str | None = None, dimension: str | None = None,
                programme: str | None = None) -> dict[str, Any]:
    """One target list of ``area`` (province, amphoe, tambon; villages too for household
    lists) as a frame plus what the page and the file say about it. ``households`` and
    ``excluded`` read personal data: the route checks the province right first and audits.
    """
    from service.analysis.spec import load_spec
    from service.usecases.profile import admin_level, area_row, previous_version

    if kind not in LIST_KINDS:
        raise NotFound(f"no list {kind!r} / ไม่มีรายชื่อแบบนี้")
    level = admin_level(area)
    if level == "country" or (kind == "villages" and level == "village"):
        raise InvalidInput("choose a province, amphoe or tambon / เลือกจังหวัด อำเภอ หรือตำบล",
                           column="area")
    version = src.store.version(src.dataset, version_id)
    meta = version.meta or {}
    published = meta.get("kind") == "published"  # TPMAP's tables: no households
    if published and kind != "villages":
        raise NotFound("household and exclusion lists need person records: not available "
                       "for this dataset (published tables) / รายชื่อครัวเรือนและคนตกหล่นต้องใช้"
                       "ข้อมูลรายบุคคล ไม่มีในชุดข้อมูลนี้")
    spec = load_spec(str(meta.get("spec") or "tpmap"))
    province = area[:4]
    row = area_row(src, version.id, area)
    names = area_names(src, version.id, province)
    info: dict[str, Any] = {"kind": kind, "area": area, "level": level,
                            "name_th": row.get("name_th") or area,
                            "name_en": row.get("name_en") or "", "version": version,
                            "spec": spec, "dimension": dimension or "", "programme": programme,
                            "dimensions": [(d.name, d.label_th, d.label_en)
                                           for d in spec.dimensions]}
    if kind == "villages":
        order = order or "priority"
        villages = src.read(version.id, "village", province)
        prev_v = previous_version(src.store, src.dataset, version)
        previous = None
        if prev_v is not None:
            try:
                previous = src.read(prev_v.id, "village", province)
            except NotFound:
                previous = None
        frame = village_rows(villages, area, spec, previous=previous, names=names,
                             order=order, dimension=dimension or None)
        info["view"] = "detail" if src.can_see(province) else "public"
        info["orders"] = {k: v for k, v in VILLAGE_ORDERS.items()
                          if not (published and k == "n_poor")}
        info["published"] = published
    else:
        persons = src.store.read_persons(src.dataset, province, version=version.id)
        if kind == "households":
            order = order or "need"
            frame = household_rows(persons, area, spec, order=order,
                                   dimension=dimension or None)
            frame = with_names(frame, names)
            frame = frame[[c for c in HOUSEHOLD_COLUMNS if c in frame]]
            info["orders"] = HOUSEHOLD_ORDERS
        else:
            progs = {p["id"]: p for p in programme_info(meta.get("programmes"))}
            programme = programme or "elderly_allowance"
            if programme not in progs:
                raise InvalidInput(f"programme must be one of {', '.join(progs)} "
                                   "/ ไม่มีโครงการนี้", column="programme")
            order = order or "need"
            frame = exclusion_list(persons, programme, area=area, dimension=dimension or None,
                                   order=order, dimensions=dimension_indicators(spec))
            frame = with_names(frame, names)
            frame = frame[[c for c in EXCLUSION_COLUMNS if c in frame]]
            info["programme_info"] = progs[programme]
            info["programmes"] = list(progs.values())
            info["programme"] = programme
            info["orders"] = ORDERS
            info["area_excluded"] = _plain(row.get(f"n_excl_{programme}"))
        info["view"] = "detail"
    info["order"] = order
    info["frame"] = frame
    info["total"] = len(frame)
    return info


def visit_sheet(households: pd.DataFrame, settings: Mapping[str, Any],
                files: list[Any]) -> tuple[pd.DataFrame, int]:
    """The household list with the members' names and house id re-identified from the
    province's own source ``files`` (docs/ingest.md section 6), for home visits.

    Runs on the authorised server that holds the pseudonym key: the files are read, the
    pseudonyms recomputed and matched; nothing is stored or logged here (the route audits
    the export and deletes the files). National ID numbers are not put on the sheet.
    Returns (sheet, households found in the files)."""
    from service.ingest.find import find_pseudonyms

    wanted = {str(h) for h in households["hh_id"]}
    found: dict[str, dict[str, Any]] = {}
    for match in find_pseudonyms(dict(settings), list(files), wanted):
        hh = str(match.get("hh_id"))
        if hh not in wanted:
            continue
        entry = found.setdefault(hh, {"names": [], "house_id": match.get("house_id"),
                                      "moo": match.get("moo")})
        name = " ".join(str(match.get(k) or "") for k in ("first_name", "last_name")).strip()
        if name and name not in entry["names"]:
            entry["names"].append(name)
    out = households.copy()
    ids = out["hh_id"].astype(str)
    at = list(out.columns).index("hh_id") + 1
    out.insert(at, "member_names", ids.map(lambda h: "; ".join(found.get(h, {}).get("names",
                                                                                  []))))
    out.insert(at + 1, "house_id", ids.map(lambda h: found.get(h, {}).get("house_id") or ""))
    out.insert(at + 2, "moo", ids.map(lambda h: found.get(h, {}).get("moo") or ""))
    out.insert(at + 3, "found_in_source", ids.map(lambda h: h in found))
    return out, len(found)
