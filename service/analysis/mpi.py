"""Alkire-Foster multidimensional poverty over a person table (polars, lazy where it helps).

Per person (:func:`score_persons`, docs/CONTRACT.md §2): ``dep_<ind>`` (0/1 after
applicability), the weighted deprivation score ``mpi_c = Σ_j w_j dep_j``, ``mpi_poor``
(c ≥ k), ``mpi_vulnerable`` (vulnerable cutoff ≤ c < k), ``mpi_severe`` (c ≥ severe cutoff),
the TPMAP union flags, target groups, programme eligibility/receipt and household flags.

Per area or subgroup (:func:`area_counts` then :func:`ratios_from_counts`): counts are SUMMED
first and ratios computed from the sums, never averaged:
H = q/n, A = Σ c(k)/q, M0 = Σ c(k)/n = H·A = Σ_j w_j h_j(k).

Missing values (documented rule, docs/mpi.md): a person outside an indicator's
applicability is not deprived in it. An applicable but null value follows the indicator's
``missing`` rule: ``drop`` (the person gets no score: ``mpi_c``/``mpi_poor`` are null, they are
left out of n and reported as dropped), ``not_deprived`` or ``deprived``. The ``tpmap`` presets
use ``not_deprived`` because a null ``ind*`` means "not applicable" in the person table.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import polars as pl

from service.analysis import groups as groups_mod
from service.analysis.coverage import Programmes, coverage_count_exprs, coverage_table
from service.analysis.spec import (
    HOUSEHOLD_COLUMN,
    Indicator,
    Spec,
    compare,
    rule_columns,
    rule_expr,
)
from service.errors import InvalidInput

log = logging.getLogger(__name__)

#: tolerance for c ≥ k (weighted sums of 1/15 etc.; mpi_c is stored as float32)
EPS = 1e-6
GROUP_NAMES = tuple(groups_mod.TARGET_GROUPS)

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


# --------------------------------------------------------------------------- per person


def deprivation_expr(ind: Indicator) -> pl.Expr:
    """``dep_<ind>`` as Int8: 0 outside applicability, the missing rule on applicable nulls."""
    raw = pl.col(ind.column)
    if ind.rule["type"] == "flag":
        deprived = raw.cast(pl.Boolean)
    else:
        deprived = compare(raw, ind.rule["op"], ind.rule["cutoff"])
    missing_value = {"drop": None, "not_deprived": 0, "deprived": 1}[ind.missing]
    return (
        pl.when(~rule_expr(ind.applies)).then(pl.lit(0, pl.Int8))
        .when(raw.is_null()).then(pl.lit(missing_value, pl.Int8))
        .otherwise(deprived.cast(pl.Int8))
        .cast(pl.Int8)
        .alias(ind.dep_column)
    )


def score_expr(spec: Spec) -> pl.Expr:
    """Deprivation score c (Float64); null when any dep is null (missing rule ``drop``)."""
    total: pl.Expr | None = None
    for ind in spec.indicators:
        term = pl.col(ind.dep_column).cast(pl.Float64) * ind.weight
        total = term if total is None else total + term  # `+` keeps nulls (sum_horizontal won't)
    assert total is not None
    return total


def missing_inputs(columns: Iterable[str], spec: Spec,
                   programmes: Programmes | None) -> dict[str, list[str]]:
    """Which parts of the scoring lack input columns: {part: [missing columns]}."""
    have = set(columns)
    parts: dict[str, set[str]] = {"indicators": {i.column for i in spec.indicators}}
    for ind in spec.indicators:
        parts["indicators"] |= rule_columns(ind.applies)
    if spec.union.require_column:
        parts["target_poor"] = {spec.union.require_column}
    parts["groups"] = groups_mod.group_columns()
    if programmes is not None:
        parts["programmes"] = programmes.input_columns()
    parts["households"] = {HOUSEHOLD_COLUMN, "age"}
    return {k: sorted(v - have) for k, v in parts.items() if v - have}


def score_persons(frame: FrameT, spec: Spec, programmes: Programmes | None = None, *,
                  require_all: bool = True, file: str | None = None) -> FrameT:
    """Add the scored columns of docs/CONTRACT.md §2 to a person table (a new frame).

    ``require_all=True`` (the pipeline) raises :class:`InvalidInput` naming any missing
    input column; ``False`` (ad-hoc files) skips the parts whose inputs are absent (target
    poor, groups, programmes, household flags) and logs which. Indicator columns are always
    required. Works on a DataFrame or a LazyFrame and returns the same kind.
    """
    lazy = frame.lazy()
    columns = lazy.collect_schema().names()
    missing = missing_inputs(columns, spec, programmes)
    if "indicators" in missing or (require_all and missing):
        cols = sorted({c for v in missing.values() for c in v})
        raise InvalidInput(f"ไม่มีคอลัมน์ / missing column(s): {', '.join(cols)}", file=file,
                           column=cols[0])
    if missing:
        log.info("scoring without %s (missing columns: %s)", ", ".join(missing),
                 ", ".join(sorted({c for v in missing.values() for c in v})))

    dims = spec.dimension_names
    c = pl.col("mpi_c").cast(pl.Float64)
    lazy = lazy.with_columns([deprivation_expr(i) for i in spec.indicators])
    lazy = lazy.with_columns(score_expr(spec).alias("mpi_c"))
    lazy = lazy.with_columns(
        (c >= spec.k - EPS).alias("mpi_poor"),
        ((c >= spec.vulnerable_cutoff - EPS) & (c < spec.k - EPS)).alias("mpi_vulnerable"),
        (c >= spec.severe_cutoff - EPS).alias("mpi_severe"),
        *[pl.any_horizontal([pl.col(i.dep_column) == 1 for i in spec.indicators_of(d)])
          .fill_null(False).alias(f"tpmap_dim_{d}") for d in dims],
    )
    any_dim = pl.any_horizontal([pl.col(f"tpmap_dim_{d}") for d in spec.union.dimensions])
    lazy = lazy.with_columns(any_dim.alias("tpmap_deprived_any"))
    later: list[pl.Expr] = []
    if "target_poor" not in missing:
        require = (rule_expr({"column": spec.union.require_column})
                   if spec.union.require_column else pl.lit(True))
        later.append((pl.col("tpmap_deprived_any") & require).alias("tpmap_target_poor"))
    if "groups" not in missing:
        later += groups_mod.group_exprs()
    if programmes is not None and "programmes" not in missing:
        from service.analysis.coverage import programme_exprs

        later += programme_exprs(programmes)
    # a DataFrame (the pipeline): the household flags from the per-person flags in one
    # numpy pass per household run when its households are contiguous (_household_flags)
    eager = isinstance(frame, pl.DataFrame) and "households" not in missing
    if eager:
        child, deprived = groups_mod.crossgen_parts(spec.crossgen_dimensions)
        later += [pl.col("mpi_poor").fill_null(False).alias(_HH_FLAGS[0]),
                  child.fill_null(False).alias(_HH_FLAGS[1]),
                  deprived.fill_null(False).alias(_HH_FLAGS[2])]
    elif "households" not in missing:
        later += [
            groups_mod.household_any(pl.col("mpi_poor")).alias("hh_mpi_poor"),
            groups_mod.crossgen_expr(spec.crossgen_dimensions),
        ]
    if later:
        lazy = lazy.with_columns(later)
    lazy = lazy.with_columns(pl.col("mpi_c").cast(pl.Float32))
    if isinstance(frame, pl.LazyFrame):
        return lazy  # type: ignore[return-value]
    out = lazy.collect()
    return _household_flags(out) if eager else out  # type: ignore[return-value]


#: per-person flags (null = false) that :func:`_household_flags` spreads over households:
#: poor, a child aged 0-18, deprived in a cross-generational dimension
_HH_FLAGS = ("__hh_poor", "__hh_child", "__hh_deprived")


def _household_flags(frame: pl.DataFrame) -> pl.DataFrame:
    """``hh_mpi_poor`` and ``hh_crossgen`` (groups.household_any / crossgen_expr) from the
    :data:`_HH_FLAGS` columns, which it drops.

    When every household's members are consecutive rows (as person files list them) the
    flags are an OR over each run of equal ``hh_id``: one numpy pass instead of a window
    over hashed strings (~3x less CPU for the whole scoring). Otherwise (a household's rows
    apart, or null ids in several places) the same polars windows as the lazy path."""
    import numpy as np

    hh = frame[HOUSEHOLD_COLUMN]
    new = hh.ne_missing(hh.shift(1)).to_numpy().copy() if len(hh) else np.zeros(0, bool)
    if len(new):
        new[0] = True
    starts = np.flatnonzero(new)
    poor, child, deprived = (pl.col(c) for c in _HH_FLAGS)
    if len(starts) == 0 or hh.gather(starts).n_unique() != len(starts):
        flags = [groups_mod.household_any(poor).alias("hh_mpi_poor"),
                 (groups_mod.household_any(child) & groups_mod.household_any(deprived))
                 .alias("hh_crossgen")]
        return frame.with_columns(flags).drop(_HH_FLAGS)
    run = np.cumsum(new) - 1

    def spread(column: str) -> np.ndarray:
        values = frame[column].to_numpy()
        return np.logical_or.reduceat(values, starts)[run]

    crossgen = spread(_HH_FLAGS[1]) & spread(_HH_FLAGS[2])
    # a frame from the columns themselves: an eager drop/with_columns costs ~15x more here
    return pl.DataFrame(
        [frame.get_column(c) for c in frame.columns if c not in _HH_FLAGS]
        + [pl.Series("hh_mpi_poor", spread(_HH_FLAGS[0]), dtype=pl.Boolean),
           pl.Series("hh_crossgen", crossgen, dtype=pl.Boolean)])


def validate_values(frame: pl.DataFrame | pl.LazyFrame, spec: Spec, *, file: str | None = None,
                    weight: str | None = None, header_rows: int = 1) -> None:
    """Raise :class:`InvalidInput` naming the first bad row and column: flag indicators must
    be 0/1/true/false/null, cutoff indicators numeric, weights non-negative numbers.
    ``header_rows`` converts the 0-based data index into a file row number (CSV: 1)."""
    lazy = frame.lazy()
    schema = lazy.collect_schema()
    checks: list[tuple[str, pl.Expr, str]] = []
    for ind in spec.indicators:
        dtype = schema.get(ind.column)
        if dtype is None:
            raise InvalidInput("ไม่มีคอลัมน์ / missing column", file=file, column=ind.column)
        numeric = dtype.is_numeric() or dtype == pl.Boolean
        if not numeric:
            raise InvalidInput(f"ต้องเป็นตัวเลข / must be numeric, found {dtype}", file=file,
                               column=ind.column)
        if ind.rule["type"] == "flag" and dtype != pl.Boolean:
            value = pl.col(ind.column)
            checks.append((ind.column, (value != 0) & (value != 1),  # null: no error
                           "ค่าต้องเป็น 0, 1 หรือว่าง / value must be 0, 1 or empty"))
    if weight is not None:
        dtype = schema.get(weight)
        if dtype is None:
            raise InvalidInput("ไม่มีคอลัมน์น้ำหนัก / missing weight column", file=file,
                               column=weight)
        if not dtype.is_numeric():
            raise InvalidInput("น้ำหนักต้องเป็นตัวเลข / weight must be numeric", file=file,
                               column=weight)
        checks.append((weight, pl.col(weight).is_null() | (pl.col(weight) < 0)
                       | pl.col(weight).cast(pl.Float64).is_nan(),
                       "น้ำหนักต้องไม่ติดลบและไม่ว่าง / weight must be a non-negative number"))
    if not checks:
        return
    idx = lazy.with_row_index("__row").select(
        *[pl.col("__row").filter(expr).first().alias(str(i))
          for i, (_, expr, _) in enumerate(checks)]
    ).collect().row(0)
    for (col, _, msg), row in zip(checks, idx, strict=True):
        if row is not None:
            raise InvalidInput(msg, file=file, row=int(row) + 1 + header_rows, column=col)


def missing_counts(frame: pl.DataFrame | pl.LazyFrame, spec: Spec) -> dict[str, dict[str, Any]]:
    """Per indicator: persons with a null value in an indicator that applies to them, and
    the rule applied to them (``drop`` removes them; under the tpmap presets a null means
    "not applicable" and counts as not deprived)."""
    row = frame.lazy().select(
        *[(rule_expr(i.applies) & pl.col(i.column).is_null()).sum().alias(i.name)
          for i in spec.indicators]
    ).collect().row(0, named=True)
    rules = {i.name: i.missing for i in spec.indicators}
    return {k: {"nulls": int(v), "rule": rules[k]} for k, v in row.items()}


# --------------------------------------------------------------------------- counts


#: helper columns added by :func:`with_count_helpers`, read by :func:`count_exprs`
_C, _SCORED, _POOR = "__c64", "__scored", "__poor"


def with_count_helpers(frame: FrameT, spec: Spec, *, k: float | None = None) -> FrameT:
    """Add the helper columns :func:`count_exprs` reads: c again in float64 from the dep
    columns (``mpi_c`` is stored as float32 and sums over millions should not carry its
    rounding; M0 = Σ_j w_j h_j exactly), scored, and poor at cutoff ``k`` (default
    ``spec.k``: any k works without re-scoring). Computed once, not once per count."""
    k = spec.k if k is None else k
    c = score_expr(spec)
    return frame.with_columns(c.alias(_C)).with_columns(
        pl.col(_C).is_not_null().alias(_SCORED),
        (pl.col(_C) >= k - EPS).fill_null(False).alias(_POOR),
    )


def count_exprs(spec: Spec, programmes: Programmes | None = None, *, k: float | None = None,
                weight: str | None = None, columns: Iterable[str] = ()) -> list[pl.Expr]:
    """Aggregations named as docs/CONTRACT.md §3 over scored persons that went through
    :func:`with_count_helpers` (same ``k``). ``weight`` is a survey weight column (counts
    become weighted sums); household counts are never weighted. ``columns`` lists the
    scored frame's columns so counts of parts that were skipped are left out."""
    k = spec.k if k is None else k
    have = set(columns)
    # unweighted counts stay integers; a literal weight would not broadcast in group_by
    w = pl.col(weight).cast(pl.Float64) if weight else None
    c = pl.col(_C)
    scored = pl.col(_SCORED)
    poor = pl.col(_POOR)
    vul = ((c >= spec.vulnerable_cutoff - EPS) & (c < k - EPS)).fill_null(False)
    severe = (c >= spec.severe_cutoff - EPS).fill_null(False)
    c_poor = pl.when(poor).then(c).otherwise(0.0)

    def wsum(flag: pl.Expr, name: str) -> pl.Expr:
        if w is None:
            return flag.cast(pl.Int64).sum().alias(name)
        return (w * flag.cast(pl.Float64)).sum().alias(name)

    def wsum_value(value: pl.Expr, name: str) -> pl.Expr:
        return (value if w is None else w * value).sum().alias(name)

    out = [
        pl.len().cast(pl.Int64).alias("n_persons") if w is None else w.sum().alias("n_persons"),
        wsum(scored, "n_scored"),
        wsum(poor, "n_poor"),
        wsum_value(c_poor, "sum_c_poor"),
        wsum(vul, "n_vulnerable"),
        wsum(severe, "n_severe"),
    ]
    for ind in spec.indicators:
        dep = (pl.col(ind.dep_column) == 1).fill_null(False) & scored
        out += [wsum(dep, f"n_dep_{ind.name}"), wsum(dep & poor, f"n_cdep_{ind.name}")]
    out.append(wsum(pl.col("tpmap_deprived_any"), "n_deprived_any"))
    if "tpmap_target_poor" in have:
        tp = pl.col("tpmap_target_poor")
        out.append(wsum(tp, "n_target_poor"))
        out += [wsum(tp & pl.col(f"tpmap_dim_{d}"), f"n_target_poor_{d}")
                for d in spec.dimension_names]
    for g in GROUP_NAMES:
        if f"grp_{g}" in have:
            member = pl.col(f"grp_{g}") & scored
            out += [wsum(member, f"n_{g}"), wsum(member & poor, f"n_poor_{g}"),
                    wsum_value(pl.when(member).then(c_poor).otherwise(0.0),
                               f"sum_c_poor_{g}")]
    if programmes is not None and all(f"elig_{p}" in have for p in programmes.names):
        out += coverage_count_exprs(programmes, weight)
    if HOUSEHOLD_COLUMN in have:
        hh = pl.col(HOUSEHOLD_COLUMN)
        out += [hh.n_unique().alias("n_households"),
                hh.filter(poor).n_unique().alias("n_poor_households")]
        if "hh_crossgen" in have:
            out.append(hh.filter(pl.col("hh_crossgen")).n_unique()
                       .alias("n_crossgen_households"))
    return out


def area_counts(scored: pl.DataFrame | pl.LazyFrame, spec: Spec,
                programmes: Programmes | None = None, *, by: str | Sequence[str] | None = None,
                k: float | None = None, weight: str | None = None) -> pl.DataFrame:
    """Summed counts per group of ``by`` (one row for everyone when None)."""
    lazy = scored.lazy()
    cols = lazy.collect_schema().names()
    exprs = count_exprs(spec, programmes, k=k, weight=weight, columns=cols)
    lazy = with_count_helpers(lazy, spec, k=k)
    if not by:
        return lazy.select(exprs).collect()
    keys = [by] if isinstance(by, str) else list(by)
    return lazy.group_by(keys).agg(exprs).sort(keys, nulls_last=True).collect()


def _ratio(num: pl.Expr, den: pl.Expr, name: str) -> pl.Expr:
    den = den.cast(pl.Float64)
    return pl.when(den > 0).then(num.cast(pl.Float64) / den).otherwise(None).alias(name)


def ratio_exprs(columns: Iterable[str]) -> list[pl.Expr]:
    """Ratios of docs/CONTRACT.md §3 from summed count columns present in ``columns``:
    h, a, m0, h_<grp>, m0_<grp>, cov_<p>. The denominator is ``n_scored`` when present
    (persons with a complete profile), else ``n_persons``. Null when a denominator is 0."""
    have = list(columns)
    n = pl.col("n_scored") if "n_scored" in have else pl.col("n_persons")
    out: list[pl.Expr] = []
    if "n_poor" in have:
        out += [_ratio(pl.col("n_poor"), n, "h"),
                _ratio(pl.col("sum_c_poor"), pl.col("n_poor"), "a"),
                _ratio(pl.col("sum_c_poor"), n, "m0")]
    for g in GROUP_NAMES:
        if f"n_poor_{g}" in have:
            out += [_ratio(pl.col(f"n_poor_{g}"), pl.col(f"n_{g}"), f"h_{g}"),
                    _ratio(pl.col(f"sum_c_poor_{g}"), pl.col(f"n_{g}"), f"m0_{g}")]
    for col in have:
        if col.startswith("n_elig_"):
            p = col.removeprefix("n_elig_")
            out.append(_ratio(pl.col(col) - pl.col(f"n_excl_{p}"), pl.col(col), f"cov_{p}"))
    return out


def ratios_from_counts(df: Any) -> Any:
    """Add the §3 ratio columns to a table of summed counts (polars DataFrame/LazyFrame or
    pandas DataFrame; returns the same kind). The one place these formulas live."""
    if isinstance(df, pl.DataFrame | pl.LazyFrame):
        cols = df.collect_schema().names()
        return df.with_columns(ratio_exprs(cols))
    import pandas as pd

    if isinstance(df, pd.DataFrame):
        out = pl.from_pandas(df)
        return out.with_columns(ratio_exprs(out.columns)).to_pandas()
    raise TypeError(f"expected a polars or pandas DataFrame, got {type(df).__name__}")


# --------------------------------------------------------------------------- results


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def result_from_counts(row: Mapping[str, Any], spec: Spec) -> dict[str, Any]:
    """H, A, M0, headcount ratios and contributions from ONE row of summed counts."""
    n, q, s = row["n_scored"], row["n_poor"], row["sum_c_poor"]
    m0 = _div(s, n)
    unc = {i.name: _div(row[f"n_dep_{i.name}"], n) for i in spec.indicators}
    cen = {i.name: _div(row[f"n_cdep_{i.name}"], n) for i in spec.indicators}
    contrib: dict[str, float | None] = {}
    for i in spec.indicators:
        h_j = cen[i.name]
        contrib[i.name] = i.weight * h_j / m0 if m0 and h_j is not None else None
    dim_contrib = {
        d: (sum(contrib[i.name] or 0.0 for i in spec.indicators_of(d)) if m0 else None)
        for d in spec.dimension_names
    }
    out: dict[str, Any] = {
        "n": n, "n_rows": row.get("n_rows"), "n_dropped": row.get("n_dropped"),
        "q": q, "h": _div(q, n), "a": _div(s, q), "m0": m0,
        "vulnerable": _div(row["n_vulnerable"], n), "severe": _div(row["n_severe"], n),
        "uncensored_headcount": unc, "censored_headcount": cen,
        "contribution": {"indicators": contrib, "dimensions": dim_contrib},
        "deprived_any": _div(row.get("n_deprived_any"), n),
    }
    if "n_target_poor" in row:
        out["target_poor"] = _div(row["n_target_poor"], n)
        out["n_target_poor"] = row["n_target_poor"]
    if "n_households" in row:
        out["households"] = {"n": row["n_households"], "poor": row["n_poor_households"],
                             "crossgen": row.get("n_crossgen_households")}
    return out


def _target_groups(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for g in GROUP_NAMES:
        if f"n_{g}" not in row:
            continue
        _, th, en = groups_mod.TARGET_GROUPS[g]
        n, q, s = row[f"n_{g}"], row[f"n_poor_{g}"], row[f"sum_c_poor_{g}"]
        out.append({"group": g, "label_th": th, "label_en": en, "n": n, "q": q,
                    "h": _div(q, n), "a": _div(s, q), "m0": _div(s, n)})
    return out


def summarize(frame: pl.DataFrame | pl.LazyFrame, spec: Spec,
              programmes: Programmes | None = None, *, by: str | None = None,
              k_values: Sequence[float] | None = None, weight: str | None = None,
              require_all: bool = False, file: str | None = None) -> dict[str, Any]:
    """Score ``frame`` and return JSON-ready results for each k: overall and per ``by``
    group (with population shares and contributions to M0 — the subgroup decomposition),
    target-group MPIs, programme coverage and the missing-value report."""
    from service.analysis.coverage import contingency_table

    k_values = list(k_values) if k_values else [spec.k]
    for k in k_values:
        spec.with_k(k)  # validates 0 < k <= 1
    lazy = frame.lazy()
    validate_values(lazy, spec, file=file, weight=weight)
    miss = missing_counts(lazy, spec)
    scored = score_persons(lazy, spec, programmes, require_all=require_all, file=file).collect()
    if by == "age_group" and "age_group" not in scored.columns and "age" in scored.columns:
        scored = scored.with_columns(groups_mod.age_group_expr())
    if by is not None and by not in scored.columns:
        raise InvalidInput("ไม่มีคอลัมน์สำหรับแบ่งกลุ่ม / no such column for --by (input or "
                           "scored columns, or age_group)", file=file, column=by)
    skipped = missing_inputs(lazy.collect_schema().names(), spec, programmes)
    n_rows = scored.height
    n_dropped = int(scored["mpi_c"].null_count())
    if n_dropped:
        log.warning("%d of %d persons dropped: an applicable indicator value is missing",
                    n_dropped, n_rows)
    results = []
    for k in k_values:
        overall = area_counts(scored, spec, programmes, k=k, weight=weight).row(0, named=True)
        rec = result_from_counts({**overall, "n_rows": n_rows, "n_dropped": n_dropped}, spec)
        rec.update({"k": k, "group": None, "target_groups": _target_groups(overall)})
        if programmes is not None:
            rec["coverage"] = coverage_table(overall, programmes)
        results.append(rec)
        if by is None:
            continue
        sub = area_counts(scored, spec, programmes, by=by, k=k, weight=weight)
        extra = scored.group_by(by).agg(pl.len().alias("n_rows"),
                                        pl.col("mpi_c").null_count().alias("n_dropped"))
        sub = sub.join(extra, on=by, how="left", nulls_equal=True)
        for row in sub.iter_rows(named=True):
            g = result_from_counts(row, spec)
            share = _div(row["n_scored"], overall["n_scored"])
            g.update({
                "k": k, "group": {"column": by, "value": row[by]},
                "population_share": share,
                "contribution_to_m0": (share * g["m0"] / rec["m0"])
                if share is not None and g["m0"] is not None and rec["m0"] else None,
                "target_groups": _target_groups(row),
            })
            if programmes is not None:
                g["coverage"] = coverage_table(row, programmes)
            results.append(g)
    out: dict[str, Any] = {
        "spec": spec.name, "k_values": k_values, "weight": weight, "by": by,
        "n_rows": n_rows, "n_dropped": n_dropped, "missing_values": miss,
        "skipped": skipped, "results": results,
    }
    if programmes is not None and "programmes" not in skipped:
        out["contingencies"] = contingency_table(scored, programmes, weight=weight)
    return out
