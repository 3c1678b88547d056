"""Did the help work? Exit rates of helped households against comparable households not
(yet) helped, between a baseline round and the next one (summative evaluation).

Design (docs/followup.md):

* Units: households present in both rounds (same ``hh_id``: the panel's stable id) that
  were target at baseline. Outcome ``poverty``: poor at baseline (MPI poor or TPMAP target
  poor) and neither in the next round = exited. Outcome ``exclusion``: excluded at baseline
  from a programme of the case rules (eligible, not receiving) and from none of those in
  the next round = exited.
* Treated: households with at least one help record (of the action / agency asked for).
  Comparison: households of the same population with no help record at all.
* Matching: exact, on strata of the baseline deprivation profile (the set of BMN dimensions
  failed and the number of indicators failed: 1, 2, 3, 4+), the household type (child /
  elderly / disabled members) and the area (amphoe by default). The effect is the average
  effect on the treated (ATT): Σ_s n_t,s (ȳ_t,s − ȳ_c,s) / Σ_s n_t,s over strata holding both
  treated and comparison households; treated households in strata without a comparison are
  counted as ``n_unmatched`` and left out.
* Interval: a stratified bootstrap of the households, the 2.5 and 97.5 percentiles of the
  ATT over ``n_boot`` replicates. Every stratum and arm (a *cell*) is resampled on its own,
  with the rescaled bootstrap of Rao and Wu (1988): n − 1 households drawn with replacement
  from a cell of n (for a 0/1 outcome: Binomial(n − 1, k/n) exits over n − 1, drawn
  directly), whose variance k(n − k)/(n²(n − 1)) = s²/n is the unbiased one (the plain
  n-out-of-n resample has (n − 1)/n of it: half in a cell of two). A cell of ONE household
  has no variance of its own (every resample is that household): its variance is the
  pooled within-cell variance Σ k(n − k)/n / Σ (n − 1) of the same arm's cells of at least
  two households in its collapsed stratum (the same profile and household type in the
  province; if that has fewer than :data:`MIN_POOLED_DF` degrees of freedom, the profile
  and household type in the whole panel; then the whole arm), applied as a wild bootstrap
  draw (the household's outcome ± that standard deviation, a Rademacher sign). Without it
  the singleton cells, about one in five matched strata on the national panel and carrying
  the largest weights per comparison household, would add no variance at all.

Everything is computed from pseudonymous household frames; results are aggregates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl

from service.followup.catalogue import Workflow, load_workflow
from service.followup.households import DIMENSIONS

OUTCOMES = ("poverty", "exclusion")
BY = ("all", "action", "agency", "area")


@dataclass(frozen=True)
class Panel:
    """Baseline households joined to their next-round state (one row per household)."""

    frame: pl.DataFrame          # hh_id, stratum, area, exited_<outcome>, eligible_<outcome>


def _profile(failing: pl.Expr) -> pl.Expr:
    """Dimensions failed (letters) and the number of indicators failed, capped at 4."""
    dims = [pl.when(failing.str.contains(r"(^|,)(" + "|".join(inds) + r")(,|$)"))
            .then(pl.lit(d[0].upper())).otherwise(pl.lit("")) for d, inds in DIMENSIONS.items()]
    n = (failing.str.count_matches(",") + 1).clip(upper_bound=4)
    n = pl.when(failing == "").then(0).otherwise(n)
    return pl.concat_str([*dims, pl.lit(":"), n.cast(pl.String)])


def build_panel(baseline: pl.DataFrame, follow: pl.DataFrame, *, area_level: str = "amphoe",
                workflow: Workflow | None = None) -> Panel:
    """Join :func:`service.followup.households.household_frame` of two rounds."""
    wf = workflow or load_workflow()
    col = {"province": "province_code", "amphoe": "amphoe_code",
           "tambon": "tambon_code"}[area_level]
    progs = list(wf.excluded_programmes)
    excl_any = pl.any_horizontal([pl.col(f"excl_{p}") for p in progs]) if progs else pl.lit(
        False)
    base = baseline.select(
        "hh_id", "province_code", "amphoe_code", "tambon_code",
        pl.col(col).alias("area"),
        (pl.col("mpi_poor") | pl.col("target_poor")).alias("eligible_poverty"),
        excl_any.alias("eligible_exclusion"),
        *[pl.col(f"excl_{p}").alias(f"_b_{p}") for p in progs],
        pl.concat_str([_profile(pl.col("failing")), pl.lit("|"), pl.col("household_type"),
                       pl.lit("|"), pl.col(col).fill_null("")]).alias("stratum"))
    nxt = follow.select("hh_id", (pl.col("mpi_poor") | pl.col("target_poor")).alias("_poor"),
                        *[pl.col(f"excl_{p}").alias(f"_n_{p}") for p in progs])
    j = base.join(nxt, on="hh_id", how="inner")
    still = (pl.any_horizontal([pl.col(f"_b_{p}") & pl.col(f"_n_{p}") for p in progs])
             if progs else pl.lit(False))
    j = j.with_columns(exited_poverty=~pl.col("_poor"), exited_exclusion=~still)
    keep = ["hh_id", "province_code", "amphoe_code", "tambon_code", "area", "stratum",
            "eligible_poverty", "eligible_exclusion", "exited_poverty", "exited_exclusion"]
    return Panel(j.select(keep))


#: degrees of freedom (households beyond the first of each cell) a pooled variance needs
MIN_POOLED_DF = 5
#: bootstrap replicates drawn at once (memory: chunk × cells × 8 bytes per arm)
_CHUNK = 50


def _pooled_sd(groups: pd.DataFrame, arm: str) -> np.ndarray:
    """Standard deviation for each cell of one household (0 for the others, whose own
    variance the rescaled bootstrap gives): the pooled within-cell variance of the arm's
    cells of at least two households in the cell's collapsed stratum (see the module
    docstring)."""
    n, k = groups[f"n_{arm}"].to_numpy(np.int64), groups[f"k_{arm}"].to_numpy(np.int64)
    single = n == 1
    out = np.zeros(len(groups))
    if not single.any():
        return out
    parts = groups["stratum"].str.split("|", n=2, expand=True)
    collapsed = [parts[0] + "|" + parts[1] + "|" + parts[2].str[:4],   # profile, type, province
                 parts[0] + "|" + parts[1],                             # profile, type
                 pd.Series("", index=groups.index)]                     # the whole arm
    ss = np.where(n >= 2, k * (n - k) / np.maximum(n, 1), 0.0)          # Σ (x − x̄)² per cell
    df = np.where(n >= 2, n - 1, 0)
    todo = single.copy()
    for key in collapsed:
        frame = pd.DataFrame({"g": key.to_numpy(), "ss": ss, "df": df})
        pooled = frame.groupby("g")[["ss", "df"]].transform("sum")
        ok = todo & (pooled["df"].to_numpy() >= MIN_POOLED_DF)
        out[ok] = np.sqrt(pooled["ss"].to_numpy()[ok] / pooled["df"].to_numpy()[ok])
        todo &= ~ok
    # fewer than MIN_POOLED_DF in the whole arm: the binomial variance of the arm's rate
    if todo.any():
        rate = k.sum() / max(n.sum(), 1)
        out[todo] = np.sqrt(rate * (1 - rate))
    return out


def _replicates(n: np.ndarray, k: np.ndarray, sd: np.ndarray, reps: int,
                rng: np.random.Generator) -> np.ndarray:
    """Bootstrap exit rates of the cells (reps × cells): Rao-Wu rescaled resamples of n − 1
    households for cells of two or more, the outcome ± ``sd`` for cells of one."""
    m = np.maximum(n - 1, 1)
    rate = rng.binomial(m, k / n, size=(reps, len(n))) / m
    single = n == 1
    if single.any():
        sign = rng.integers(0, 2, size=(reps, int(single.sum()))) * 2 - 1
        rate[:, single] = k[single] + sign * sd[single]
    return rate


def _att(groups: pd.DataFrame, *, n_boot: int, rng: np.random.Generator
         ) -> tuple[float, float, float, float, float, int]:
    """(ATT, lo, hi, exit rate treated, exit rate comparison, matched treated) from a frame
    of strata: stratum, n_t, k_t, n_c, k_c."""
    g = groups[(groups["n_t"] > 0) & (groups["n_c"] > 0)].reset_index(drop=True)
    if g.empty:
        nan = float("nan")
        return nan, nan, nan, nan, nan, 0
    n_t, k_t = g["n_t"].to_numpy(np.int64), g["k_t"].to_numpy(np.int64)
    n_c, k_c = g["n_c"].to_numpy(np.int64), g["k_c"].to_numpy(np.int64)
    w = n_t / n_t.sum()
    rate_t = float((w * k_t / n_t).sum())
    rate_c = float((w * k_c / n_c).sum())
    lo = hi = float("nan")
    if n_boot > 0:
        sd_t, sd_c = _pooled_sd(g, "t"), _pooled_sd(g, "c")
        reps = np.concatenate([
            (_replicates(n_t, k_t, sd_t, b, rng) - _replicates(n_c, k_c, sd_c, b, rng)) @ w
            for b in np.diff(np.r_[0:n_boot:_CHUNK, n_boot])])
        lo, hi = (float(x) for x in np.percentile(reps, [2.5, 97.5]))
    return rate_t - rate_c, lo, hi, rate_t, rate_c, int(n_t.sum())


#: columns of :func:`evaluate` (also when no group has help records: an empty table)
RESULT_COLUMNS = ("by", "key", "n_helped", "n_matched", "n_unmatched", "n_comparison",
                  "exit_rate_helped", "exit_rate_comparison", "effect", "effect_lo",
                  "effect_hi", "naive_effect")


def evaluate(panel: Panel, assistance: pl.DataFrame, *, outcome: str = "poverty",
             by: str = "all", n_boot: int = 500, seed: int = 2561,
             min_helped: int = 10) -> pd.DataFrame:
    """Effect of help on exit, per ``by`` (all, action, agency, area).

    ``assistance``: help records with ``hh_id`` and ``action``/``agency`` (the case store's
    :meth:`~service.followup.store.CaseStore.assistance_frame`, given before the next round).
    Groups with fewer than ``min_helped`` helped households are listed without an estimate.
    Columns: ``by, key, n_helped, n_matched, n_unmatched, n_comparison, exit_rate_helped,
    exit_rate_comparison, effect, effect_lo, effect_hi, naive_effect``.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    if by not in BY:
        raise ValueError(f"by must be one of {BY}")
    rng = np.random.default_rng(seed)
    units = panel.frame.filter(pl.col(f"eligible_{outcome}"))
    y = f"exited_{outcome}"
    helped_any = set(assistance["hh_id"].unique().to_list())
    units = units.with_columns(_helped=pl.col("hh_id").is_in(list(helped_any)))
    control = units.filter(~pl.col("_helped"))
    if by in ("action", "agency"):
        keys = sorted(assistance[by].unique().to_list())
        treated_sets = {k: set(assistance.filter(pl.col(by) == k)["hh_id"].to_list())
                        for k in keys}
    elif by == "area":
        keys = sorted(units["area"].drop_nulls().unique().to_list())
        treated_sets = dict.fromkeys(keys, helped_any)
    else:
        keys, treated_sets = ["all"], {"all": helped_any}
    rows = []
    for key in keys:
        t = units.filter(pl.col("hh_id").is_in(list(treated_sets[key])))
        c = control
        if by == "area":
            t, c = t.filter(pl.col("area") == key), c.filter(pl.col("area") == key)
        strata = _strata(t, c, y)
        n_helped = t.height
        naive = (_mean(t[y]) - _mean(c[y]) if t.height and c.height else float("nan"))
        if n_helped >= min_helped:
            att, lo, hi, rt, rc, matched = _att(strata, n_boot=n_boot, rng=rng)
        else:
            att = lo = hi = rt = rc = float("nan")
            matched = 0
        rows.append({"by": by, "key": key, "n_helped": n_helped, "n_matched": matched,
                     "n_unmatched": n_helped - matched if n_helped >= min_helped else None,
                     "n_comparison": c.height, "exit_rate_helped": rt,
                     "exit_rate_comparison": rc, "effect": att, "effect_lo": lo,
                     "effect_hi": hi, "naive_effect": naive})
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def _mean(s: pl.Series) -> float:
    return float(s.cast(pl.Float64).sum()) / s.len()


def _strata(t: pl.DataFrame, c: pl.DataFrame, y: str) -> pd.DataFrame:
    ts = t.group_by("stratum").agg(n_t=pl.len(), k_t=pl.col(y).cast(pl.Int64).sum())
    cs = c.group_by("stratum").agg(n_c=pl.len(), k_c=pl.col(y).cast(pl.Int64).sum())
    # sorted: the same seed draws the same replicates (group_by order is not fixed)
    return (ts.join(cs, on="stratum", how="full", coalesce=True).fill_null(0)
            .sort("stratum").to_pandas())


def persistent_never_helped(panel: Panel, assistance: pl.DataFrame, *,
                            by: Sequence[str] = ("amphoe_code",)) -> pd.DataFrame:
    """Poor at baseline, still poor in the next round, and never helped: counts per area
    (``n_persistent``, ``n_persistent_never_helped``)."""
    helped = assistance["hh_id"].unique().to_list()
    f = panel.frame.filter(pl.col("eligible_poverty") & ~pl.col("exited_poverty"))
    f = f.with_columns(_never=~pl.col("hh_id").is_in(helped))
    out = (f.group_by(list(by)).agg(n_persistent=pl.len(),
                                    n_persistent_never_helped=pl.col("_never").sum())
           .sort(list(by)))
    return out.to_pandas()
