"""Fit of generated person tables to TPMAP 2561: recompute TPMAP's counts from the Parquet
output (TPMAP's own rule, not the generator's internal variables) and compare."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from service.demo.calibration import DIMS, IND, tpmap

LEVEL_KEY = {"province": "province_code", "amphoe": "amphoe_code", "tambon": "tambon_code"}


def recount(persons: pl.LazyFrame | pl.DataFrame, level: str) -> pl.DataFrame:
    """TPMAP counts per area of ``level`` from a person table (CONTRACT section 1)."""
    lf = persons.lazy()
    key = LEVEL_KEY[level]
    dep = {i: pl.col(f"ind{i}").fill_null(0) == 1 for i in IND}
    any_dep = pl.any_horizontal(*dep.values())
    target = any_dep & pl.col("welfare_card")
    aggs = [
        pl.col("hh_id").n_unique().alias("households"),
        pl.len().cast(pl.Int64).alias("persons"),
        pl.col("welfare_card_registered").sum().alias("registered"),
        pl.col("welfare_card").sum().alias("validated"),
        (pl.col("age") >= 60).sum().alias("elderly"),
        pl.col("disabled").sum().alias("disabled"),
        pl.col("chronic").sum().alias("chronic"),
        pl.col("hh_id").filter(any_dep).n_unique().alias("poor_households"),
        any_dep.sum().alias("deprived"),
        (any_dep & pl.col("welfare_card_registered")).sum().alias("deprived_registered"),
        target.sum().alias("target"),
        *[(target & pl.any_horizontal(*[dep[i] for i in inds])).sum().alias(f"target_{d}")
          for d, inds in DIMS.items()],
        *[(target & dep[i]).sum().alias(f"target_ind{i}") for i in IND],
    ]
    # the streaming engine keeps memory flat on the national tables (~38 M rows)
    return (lf.group_by(pl.col(key).alias("code")).agg(aggs)
            .with_columns(pl.exclude("code").cast(pl.Int64)).sort("code")
            .collect(engine="streaming"))


def read_persons(out: str | Path, provinces: list[str] | None = None) -> pl.LazyFrame:
    files = sorted((Path(out) / "persons").glob("*.parquet"))
    if provinces is not None:
        files = [f for f in files if f.stem in provinces]
    return pl.scan_parquet(files)


def province_fit(out: str | Path, provinces: list[str] | None = None) -> pl.DataFrame:
    """Per province: generated vs published people and target poor, relative error in %."""
    # one province file at a time: memory stays that of the largest province
    files = sorted((Path(out) / "persons").glob("*.parquet"))
    got = pl.concat([recount(pl.scan_parquet(f), "province") for f in files
                     if provinces is None or f.stem in provinces])
    pub = tpmap("province").select("code", pl.col("persons").alias("pub_persons"),
                                   pl.col("target").alias("pub_target"))
    return got.select("code", "households", "persons", "target").join(
        pub, on="code", how="left").with_columns(
        (100 * (pl.col("persons") / pl.col("pub_persons") - 1)).alias("err_persons_pct"),
        (100 * (pl.col("target") / pl.col("pub_target") - 1)).alias("err_target_pct"),
    )
