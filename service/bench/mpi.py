"""`chipao bench mpi --persons N`: score N persons (all docs/CONTRACT.md §2 columns) and sum
national counts, against a naive pandas row-wise ``apply`` measured on a subsample and
extrapolated linearly (said so in the output). Also checks that both give the same scores.

Run the 36 M figure one at a time: ``flock /tmp/chipao-heavy.lock chipao bench mpi
--persons 36000000``.
"""

from __future__ import annotations

import gc
import logging
import resource
import time
from pathlib import Path
from typing import Any

import click
import numpy as np
import polars as pl

from service import vocabulary

log = logging.getLogger(__name__)

INDICATORS = tuple(vocabulary.INDICATORS)
BOOLS = ("disabled", "chronic", "welfare_card_registered", "welfare_card", "elderly_allowance",
         "disability_allowance", "child_grant", "social_security", "informal_worker")


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def synthetic_persons(n: int, *, seed: int = 7, chunk: int = 4_000_000) -> pl.DataFrame:
    """N persons in the canonical schema columns the scorer reads (households of 1-6,
    deprivation rates 3-25 %, 10 % of indicator values null = not applicable)."""
    rng = np.random.default_rng(seed)
    parts = []
    start = 0
    hh_base = 0
    while start < n:
        m = min(chunk, n - start)
        sizes = rng.integers(1, 7, size=m // 2 + 1)
        hh = np.repeat(np.arange(sizes.size, dtype=np.int64), sizes)[:m] + hh_base
        hh_base = int(hh[-1]) + 1
        cols: dict[str, Any] = {
            "hh_id": hh,
            "age": rng.integers(0, 95, size=m, dtype=np.int16),
            "sex": np.where(rng.random(m) < 0.51, "F", "M"),
            "income_per_person_thb": rng.gamma(2.0, 40000.0, size=m).astype(np.float32),
        }
        for b, p in zip(BOOLS, (0.03, 0.08, 0.3, 0.25, 0.12, 0.02, 0.02, 0.15, 0.4),
                        strict=True):
            cols[b] = rng.random(m) < p
        frame = pl.DataFrame(cols)
        rates = np.linspace(0.03, 0.25, len(INDICATORS))
        inds = {}
        for ind, r in zip(INDICATORS, rates, strict=True):
            u = rng.random(m)
            inds[ind] = pl.Series(ind, (u < r).astype(np.int8)).scatter(
                np.flatnonzero(u > 0.9), None)
        parts.append(frame.with_columns(
            pl.format("H{}", pl.col("hh_id")).alias("hh_id"), **inds))
        start += m
    return pl.concat(parts, rechunk=True)


def naive_score(pdf: Any, spec: Any, programmes: Any) -> Any:
    """The straightforward way: evaluate each person's rules in Python with
    ``DataFrame.apply(axis=1)``, then household flags with groupby-transform."""
    import pandas as pd

    from service.analysis.groups import CROSSGEN_CHILD_MAX_AGE, TARGET_GROUPS

    def truth(rule: Any, row: Any) -> bool:
        if isinstance(rule, bool):
            return rule
        if "all" in rule:
            return all(truth(r, row) for r in rule["all"])
        if "any" in rule:
            return any(truth(r, row) for r in rule["any"])
        if "not" in rule:
            return not truth(rule["not"], row)
        v = row[rule["column"]]
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return False
        op, x = rule.get("op"), rule.get("value")
        if op is None:
            return bool(v)
        if op == "between":
            return x[0] <= v <= x[1]
        if op == "in":
            return v in x
        return {"<": v < x, "<=": v <= x, ">": v > x, ">=": v >= x, "==": v == x,
                "!=": v != x}[op]

    def one(row: Any) -> pd.Series:
        out: dict[str, Any] = {}
        c = 0.0
        for ind in spec.indicators:
            v = row[ind.column]
            d: int | None
            if not truth(ind.applies, row):
                d = 0
            elif pd.isna(v):
                d = {"drop": None, "not_deprived": 0, "deprived": 1}[ind.missing]
            else:
                d = int(v == 1)
            out[ind.dep_column] = d
            c += ind.weight * (d or 0)
        out["mpi_c"] = c
        out["mpi_poor"] = c >= spec.k - 1e-6
        out["mpi_vulnerable"] = spec.vulnerable_cutoff - 1e-6 <= c < spec.k - 1e-6
        out["mpi_severe"] = c >= spec.severe_cutoff - 1e-6
        for d in spec.dimension_names:
            out[f"tpmap_dim_{d}"] = any(out[i.dep_column] == 1 for i in spec.indicators_of(d))
        out["tpmap_deprived_any"] = any(out[f"tpmap_dim_{d}"] for d in spec.union.dimensions)
        out["tpmap_target_poor"] = out["tpmap_deprived_any"] and bool(row["welfare_card"])
        for g, (rule, _, _) in TARGET_GROUPS.items():
            out[f"grp_{g}"] = truth(rule, row)
        for p in programmes.programmes:
            out[f"elig_{p.name}"] = truth(p.eligible, row)
            out[f"cov_{p.name}"] = truth(p.covered, row)
        out["_child"] = row["age"] <= CROSSGEN_CHILD_MAX_AGE
        out["_cg"] = any(out[f"tpmap_dim_{d}"] for d in spec.crossgen_dimensions)
        return pd.Series(out)

    scored = pdf.apply(one, axis=1)
    scored["hh_id"] = pdf["hh_id"].to_numpy()
    by_hh = scored.groupby("hh_id")
    scored["hh_mpi_poor"] = by_hh["mpi_poor"].transform("any")
    scored["hh_crossgen"] = by_hh["_child"].transform("any") & by_hh["_cg"].transform("any")
    return scored.drop(columns=["_child", "_cg"])


@click.command("mpi")
@click.option("--persons", "n", type=int, default=1_000_000, show_default=True,
              help="Number of synthetic persons to score.")
@click.option("--naive-sample", type=int, default=20_000, show_default=True,
              help="Persons scored by the naive pandas apply (then extrapolated to N).")
@click.option("--input", "input_dir", type=click.Path(file_okay=False), default=None,
              help="Read persons/*.parquet from this directory instead of generating.")
def command(n: int, naive_sample: int, input_dir: str | None) -> None:
    """Benchmark MPI scoring: polars engine vs naive pandas row-wise apply."""
    from service.analysis.coverage import load_programmes
    from service.analysis.mpi import area_counts, ratios_from_counts, score_persons
    from service.analysis.spec import load_spec

    spec, progs = load_spec("tpmap"), load_programmes()
    loaders: list[tuple[str, Any]]
    if input_dir:
        files = sorted(Path(input_dir).glob("persons/*.parquet"))
        if not files:
            raise click.ClickException(f"no persons/*.parquet under {input_dir}")
        # one province at a time, as the pipeline does: households never span provinces,
        # so summed counts (distinct households included) equal the national ones
        loaders = [(f.stem, lambda f=f: pl.read_parquet(f)) for f in files]
        source = f"{len(files)} province Parquet files under {input_dir}, read one at a time"
    else:
        loaders = [("synthetic", lambda size=n: synthetic_persons(size))]
        source = "synthetic, generated in memory as one frame"
    t_load = t_score = t_count = 0.0
    n = 0
    parts = []
    sample: pl.DataFrame | None = None
    for _, load in loaders:
        t0 = time.perf_counter()
        frame = load()
        t_load += time.perf_counter() - t0
        n += frame.height
        if sample is None:
            sample = frame.head(naive_sample)
        t0 = time.perf_counter()
        scored = score_persons(frame, spec, progs)
        t_score += time.perf_counter() - t0
        t0 = time.perf_counter()
        parts.append(area_counts(scored, spec, progs))
        t_count += time.perf_counter() - t0
        del frame, scored
        gc.collect()
    assert sample is not None
    t0 = time.perf_counter()
    counts = ratios_from_counts(pl.concat(parts).sum())
    t_count += time.perf_counter() - t0
    row = counts.row(0, named=True)
    click.echo(f"persons / คน: {n:,} ({source}); load/generate {t_load:.1f} s")
    click.echo(f"engine (polars): score {t_score:.1f} s + national counts {t_count:.1f} s "
               f"= {t_score + t_count:.1f} s, {n / (t_score + t_count) / 1e6:.2f} M persons/s; "
               f"peak RSS {peak_rss_gib():.2f} GiB")
    click.echo(f"  H = {row['h']:.4f}, A = {row['a']:.4f}, M0 = {row['m0']:.4f}, "
               f"target poor = {row['n_target_poor']:,}, poor households = "
               f"{row['n_poor_households']:,}")

    # naive: a contiguous block of whole households, scored row by row
    m = sample.height
    pdf = sample.to_pandas()
    t0 = time.perf_counter()
    naive = naive_score(pdf, spec, progs)
    t_naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = score_persons(sample, spec, progs)
    t_fast_sample = time.perf_counter() - t0
    # households cut at the sample's end may differ in hh flags from the full run; compare
    # against the engine on the same sample
    same = all(
        np.array_equal(naive[c].to_numpy().astype(bool), fast[c].to_numpy().astype(bool))
        for c in ("mpi_poor", "mpi_vulnerable", "tpmap_target_poor", "hh_mpi_poor",
                  "hh_crossgen", "elig_child_grant", "cov_social_security")
    ) and np.allclose(naive["mpi_c"].to_numpy(dtype=float),
                    fast["mpi_c"].to_numpy().astype(float), atol=1e-6)
    per_person = t_naive / m
    extrapolated = per_person * n
    click.echo(f"naive (pandas apply axis=1) on {m:,} persons: {t_naive:.1f} s "
               f"({m / t_naive:,.0f} persons/s; engine on the same sample {t_fast_sample:.2f} s); "
               f"extrapolated linearly to {n:,}: {extrapolated:,.0f} s")
    click.echo(f"ratio naive/engine (extrapolated): {extrapolated / (t_score + t_count):,.0f}x; "
               f"results identical on the sample: {'yes' if same else 'NO'}")
    if not same:
        raise click.ClickException("naive and engine scores differ on the sample")
