"""How sure is a rank? Household bootstrap of the priority ranking.

Where counts come from a sample, or are small (a village of 12 households), a committee should
not chase noise. We resample *households* within each area (the Poisson bootstrap: every
household gets an independent Poisson(1) weight per replicate, which is equivalent to
resampling with replacement for large areas and lets replicates be computed as one sparse
matrix product), recompute every count of the area table from the weighted households, score
the replicate with exactly the same code as :func:`service.analysis.rank.rank_areas`
(normalisation included) and rank it. Per area this gives:

* ``score_lo`` / ``score_hi`` and ``rank_lo`` / ``rank_hi``: 2.5 % and 97.5 % percentiles
  (a 95 % interval; the level is a parameter),
* ``p_top_n``: the share of replicates in which the area is among the first ``top_n``.
  Over all areas these add up to ``top_n`` (each replicate has exactly ``top_n`` areas on top).

For a census such as TPMAP the interval measures how much the rank rests on a handful of
households, not sampling error. Values that do not come from households (``pop_raster``, the
previous round's counts) are held fixed.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import polars as pl
import scipy.sparse as sp

from service.analysis.rank import (
    PriorityConfig,
    load_config,
    rank_areas,
    rank_positions,
    score_arrays,
    usable_config,
)

log = logging.getLogger(__name__)

LEVEL_KEYS = {"village": "village_id", "tambon": "tambon_located", "amphoe": "amphoe_code",
              "province": "province_code"}


def _person_count_exprs(columns: list[str]) -> dict[str, pl.Expr]:
    """Area-table count column -> person-level expression whose sum gives it."""
    cols = set(columns)
    poor = pl.col("mpi_poor").fill_null(False)
    exprs: dict[str, pl.Expr] = {
        # one per person row; not pl.lit(1): a literal summed inside group_by().agg() gives 1
        # per group (it would count households, not people)
        "n_persons": pl.col("hh_id").is_not_null().cast(pl.Float64),
        "n_poor": poor.cast(pl.Float64),
        "sum_c_poor": pl.when(poor).then(pl.col("mpi_c").cast(pl.Float64)).otherwise(0.0),
    }
    for flag, name in (("mpi_severe", "n_severe"), ("mpi_vulnerable", "n_vulnerable"),
                       ("tpmap_target_poor", "n_target_poor"),
                       ("tpmap_deprived_any", "n_deprived_any")):
        if flag in cols:
            exprs[name] = pl.col(flag).fill_null(False).cast(pl.Float64)
    for c in columns:
        if c.startswith("dep_"):
            dep = pl.col(c).fill_null(0) > 0
            exprs[f"n_{c}"] = dep.cast(pl.Float64)
            exprs[f"n_c{c}"] = (dep & poor).cast(pl.Float64)
        if c.startswith("elig_") and f"cov_{c[5:]}" in cols:
            p = c[5:]
            elig, cov = pl.col(c).fill_null(False), pl.col(f"cov_{p}").fill_null(False)
            exprs[f"n_elig_{p}"] = elig.cast(pl.Float64)
            exprs[f"n_cov_{p}"] = cov.cast(pl.Float64)
            exprs[f"n_excl_{p}"] = (elig & ~cov).cast(pl.Float64)
    return exprs


def household_counts(persons: pl.DataFrame, key: str, needed: set[str],
                     ) -> tuple[np.ndarray, dict[str, np.ndarray], list[str]]:
    """Per household: area index, the needed count columns; and the area codes."""
    exprs = _person_count_exprs(persons.columns)
    wanted = {k: v for k, v in exprs.items() if k in needed}
    hh = persons.group_by("hh_id").agg(
        pl.col(key).first().alias("_area"), *[v.sum().alias(k) for k, v in wanted.items()],
        *([pl.lit(1.0).alias("n_households")] if "n_households" in needed else []),
    ).filter(pl.col("_area").is_not_null()).sort("hh_id")  # group_by order is not stable
    area = hh["_area"]
    if area.dtype in (pl.UInt64, pl.Int64):
        import h3

        codes_int = area.unique().sort().to_list()
        lookup = {c: h3.int_to_str(c) for c in codes_int}
        area = area.replace_strict(lookup, return_dtype=pl.String)
    codes, idx = np.unique(area.cast(pl.String).to_numpy(), return_inverse=True)
    counts = {k: hh[k].to_numpy().astype("float64") for k in hh.columns
              if k not in ("hh_id", "_area")}
    return idx, counts, [str(c) for c in codes]


def bootstrap_ranking(persons: pl.DataFrame, *, level: str = "village",
                      config: PriorityConfig | None = None,
                      areas: pd.DataFrame | None = None, previous: pd.DataFrame | None = None,
                      n_boot: int = 200, top_n: int = 10, level_ci: float = 0.95,
                      seed: int = 0, batch: int = 25, explain: bool = True) -> pd.DataFrame:
    """Point ranking plus bootstrap intervals and P(top ``top_n``) per area.

    ``persons``: scored persons (CONTRACT section 2) of the areas compared. ``areas``: the area
    table of the same level, for columns not derived from households (``pop_raster``, names);
    ``previous``: the previous round's table (held fixed). Deterministic for a given ``seed``.
    """
    if n_boot < 1:
        raise ValueError("n_boot must be >= 1")
    config = config or load_config()
    key = LEVEL_KEYS.get(level, level)
    if key not in persons.columns and level == "tambon":
        key = "tambon_code"
    if key not in persons.columns:
        raise ValueError(f"person table has no column {key!r} for level {level!r}")
    derivable = set(_person_count_exprs(persons.columns)) | {"n_households"}
    extra = set(areas.columns) if areas is not None else set()
    used, notes = usable_config(config, derivable | extra,
                                set(previous.columns) if previous is not None else None)
    needed = {c for comp in used.components for c in comp.columns}
    hh_idx, hh_counts, codes = household_counts(persons, key, needed & derivable)
    n_areas = len(codes)

    # point estimate: the same sums with weight 1, through rank_areas for the tie-break order
    point = pd.DataFrame({"code": codes})
    for k, v in hh_counts.items():
        point[k] = np.bincount(hh_idx, weights=v, minlength=n_areas)
    fixed: dict[str, np.ndarray] = {}
    if areas is not None:
        a = areas.set_index("code").reindex(codes)
        for c in sorted((needed - set(hh_counts)) | {"name_th", "name_en", "level",
                                                    "parent_code", "province_code"}):
            if c in a:
                point[c] = a[c].to_numpy()
                if c in needed:
                    fixed[c] = a[c].to_numpy("float64", na_value=np.nan)
    ranked = rank_areas(point, used, previous=previous, explain=explain)
    order_pos = dict(zip(ranked["code"], ranked["priority_rank"], strict=True))
    tie_keys = np.array([order_pos[c] for c in codes], dtype="int64")

    prev_cols = None
    if previous is not None:
        p = previous.set_index("code").reindex(codes)
        prev_cols = {c: p[c].to_numpy("float64", na_value=np.nan)
                     for c in p.columns if pd.api.types.is_numeric_dtype(p[c])}

    rng = np.random.default_rng(seed)
    n_hh = len(hh_idx)
    member = sp.csr_matrix((np.ones(n_hh), (np.arange(n_hh), hh_idx)), shape=(n_hh, n_areas))
    # bound the weight matrix to ~5 M cells (40 MB) whatever the province size
    batch = max(1, min(batch, 5_000_000 // max(n_hh, 1)))
    scores = np.empty((n_boot, n_areas))
    ranks = np.empty((n_boot, n_areas), dtype="int64")
    for start in range(0, n_boot, batch):
        b = min(batch, n_boot - start)
        w = rng.poisson(1.0, size=(b, n_hh)).astype("float64")
        cols: dict[str, np.ndarray] = {}
        for k, v in hh_counts.items():
            cols[k] = np.asarray((member.multiply(v[:, None]).T @ w.T).T)
        for k, v in fixed.items():
            cols[k] = np.broadcast_to(v, (b, n_areas))
        s, _ = score_arrays(used, cols, prev_cols)
        scores[start:start + b] = s
        ranks[start:start + b] = rank_positions(s, tie_keys)

    out = _summarise(ranked, codes, scores, ranks, top_n, level_ci)
    out.attrs["notes"] = list(dict.fromkeys(ranked.attrs.get("notes", []) + notes))
    out.attrs["bootstrap"] = {"n_boot": n_boot, "top_n": top_n, "level": level_ci,
                              "seed": seed, "households": n_hh,
                              "method": "Poisson household bootstrap"}
    return out


def _summarise(ranked: pd.DataFrame, codes: list[str], scores: np.ndarray, ranks: np.ndarray,
               top_n: int, level_ci: float) -> pd.DataFrame:
    alpha = (1.0 - level_ci) / 2.0
    stats = pd.DataFrame({
        "code": codes,
        "score_lo": np.quantile(scores, alpha, axis=0),
        "score_hi": np.quantile(scores, 1 - alpha, axis=0),
        "rank_lo": np.quantile(ranks, alpha, axis=0, method="lower").astype("int64"),
        "rank_hi": np.quantile(ranks, 1 - alpha, axis=0, method="higher").astype("int64"),
        "rank_median": np.median(ranks, axis=0),
        "p_top_n": (ranks <= top_n).mean(axis=0),
    })
    out = ranked.merge(stats, on="code", how="left")
    out.attrs.update(ranked.attrs)
    return out


def resample_areas(areas: pd.DataFrame, *, config: PriorityConfig | None = None,
                   previous: pd.DataFrame | None = None, n_boot: int = 200, top_n: int = 10,
                   level_ci: float = 0.95, seed: int = 0, explain: bool = True,
                   ) -> pd.DataFrame:
    """Intervals and P(top N) from the area table alone (no household data: usable on the
    public, disclosure-controlled table and for any level).

    Parametric resampling: ``n_poor``, ``n_target_poor``, ``n_vulnerable`` and
    ``n_deprived_any`` ~ Binomial(n_persons, observed share); ``n_severe`` ~
    Binomial(n_poor*, observed share of the poor); ``sum_c_poor`` = n_poor* x observed mean
    intensity; ``n_excl_<p>`` ~ Binomial(n_elig_<p>, observed share) (Poisson without
    ``n_elig_<p>``); other inputs held fixed. Persons are drawn independently, ignoring that
    members of a household share their deprivations, so these intervals are narrower than the
    household bootstrap's: a lower bound on the uncertainty.
    """
    if n_boot < 1:
        raise ValueError("n_boot must be >= 1")
    config = config or load_config()
    ranked = rank_areas(areas, config, previous=previous, explain=explain)
    used, _ = usable_config(
        config, {c for c in areas.columns if pd.api.types.is_numeric_dtype(areas[c])},
        set(previous.columns) if previous is not None else None)
    codes = areas["code"].astype(str).tolist()
    pos = dict(zip(ranked["code"].astype(str), ranked["priority_rank"], strict=True))
    tie_keys = np.array([pos[c] for c in codes], dtype="int64")
    frame = areas.reset_index(drop=True)

    def col(name: str) -> np.ndarray:
        return np.nan_to_num(frame[name].to_numpy("float64", na_value=np.nan), nan=0.0)

    needed = {c for comp in used.components for c in comp.columns}
    prev_cols = None
    if previous is not None:
        p = previous.drop_duplicates("code").set_index("code").reindex(codes)
        prev_cols = {c: p[c].to_numpy("float64", na_value=np.nan)
                     for c in p.columns if pd.api.types.is_numeric_dtype(p[c])}
    rng = np.random.default_rng(seed)
    n_areas = len(codes)
    n = np.maximum(np.round(col("n_persons")), 0).astype("int64") if "n_persons" in frame \
        else None

    def share(x: np.ndarray, d: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.clip(np.where(d > 0, x / np.where(d > 0, d, 1), 0.0), 0.0, 1.0)

    scores = np.empty((n_boot, n_areas))
    ranks = np.empty((n_boot, n_areas), dtype="int64")
    batch = max(1, min(50, 5_000_000 // max(n_areas, 1)))
    for start in range(0, n_boot, batch):
        b = min(batch, n_boot - start)
        cols: dict[str, np.ndarray] = {c: np.broadcast_to(col(c), (b, n_areas))
                                       for c in needed if c in frame}
        if n is not None:
            for name in ("n_poor", "n_target_poor", "n_vulnerable", "n_deprived_any"):
                if name in needed | {"n_poor"} and name in frame:  # n_poor drives severe, Σc
                    cols[name] = rng.binomial(n, share(col(name), n), size=(b, n_areas))
            if "n_poor" in frame:
                poor = cols["n_poor"]
                if "sum_c_poor" in needed:  # observed mean intensity of the poor, held
                    intensity = np.where(col("n_poor") > 0,
                                         col("sum_c_poor") / np.maximum(col("n_poor"), 1), 0.0)
                    cols["sum_c_poor"] = poor * intensity
                if "n_severe" in needed and "n_severe" in frame:
                    cols["n_severe"] = rng.binomial(poor.astype("int64"),
                                                    share(col("n_severe"), col("n_poor")))
        for name in needed:
            if name.startswith("n_excl_") and name in frame:
                elig = f"n_elig_{name[len('n_excl_'):]}"
                if elig in frame:
                    m = np.maximum(np.round(col(elig)), 0).astype("int64")
                    cols[name] = rng.binomial(m, share(col(name), m), size=(b, n_areas))
                else:
                    cols[name] = rng.poisson(col(name), size=(b, n_areas))
        s, _ = score_arrays(used, {k: np.asarray(v, dtype="float64") for k, v in cols.items()},
                            prev_cols)
        scores[start:start + b] = s
        ranks[start:start + b] = rank_positions(s, tie_keys)
    out = _summarise(ranked, codes, scores, ranks, top_n, level_ci)
    out.attrs["bootstrap"] = {"n_boot": n_boot, "top_n": top_n, "level": level_ci,
                              "seed": seed, "method": "binomial resampling of area counts"}
    return out
