"""Households of a round from scored persons: who is a target, what they fail, their type.

:func:`household_frame` gives one row per household of a scored person table (CONTRACT §2):
area codes, members, poverty flags, failing indicators, programmes missed, household type.
:func:`target_households` keeps those that get a follow-up case (workflow ``case_rules``).
Both are pure polars; the same frame is the baseline and the outcome of the evaluation
(:mod:`service.followup.evaluate`).
"""

from __future__ import annotations

import polars as pl

from service import vocabulary
from service.followup.catalogue import Workflow, load_workflow

PROGRAMMES = tuple(vocabulary.PROGRAMMES)
#: BMN dimensions of the TPMAP preset (profile used for matching)
DIMENSIONS: dict[str, tuple[str, ...]] = vocabulary.DIMENSION_INDICATORS


def _has(cols: set[str], *names: str) -> bool:
    return all(n in cols for n in names)


def household_frame(persons: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One row per household: ``hh_id, province_code, amphoe_code, tambon_code, village_id,
    n_members, mpi_poor, target_poor, max_c, failing`` (comma list of indicators any member
    fails), ``excluded`` (programmes a member is eligible for and does not receive),
    ``excl_<p>`` bools, ``household_type`` (``child+elderly+disabled`` subset or ``other``)."""
    lf = persons.lazy()
    cols = set(lf.collect_schema().names())
    if "hh_id" not in cols or "province_code" not in cols:
        raise ValueError("scored person table lacks hh_id or province_code")
    inds = [c[4:] for c in sorted(cols) if c.startswith("dep_")]
    progs = [p for p in PROGRAMMES if _has(cols, f"elig_{p}", f"cov_{p}")]
    tambon = (pl.coalesce("tambon_located", "tambon_code") if _has(cols, "tambon_located")
              else pl.col("tambon_code") if "tambon_code" in cols else pl.lit(None, pl.String))
    poor = (pl.col("hh_mpi_poor").first() if "hh_mpi_poor" in cols
            else pl.col("mpi_poor").fill_null(False).any() if "mpi_poor" in cols
            else pl.lit(False))
    target = (pl.col("tpmap_target_poor").fill_null(False).any()
              if "tpmap_target_poor" in cols else pl.lit(False))
    aggs: list[pl.Expr] = [
        pl.col("province_code").first(),
        (pl.col("amphoe_code").first() if "amphoe_code" in cols
         else tambon.first().str.slice(0, 6)).alias("amphoe_code"),
        tambon.first().alias("tambon_code"),
        (pl.col("village_id").first() if "village_id" in cols
         else pl.lit(None, pl.String)).alias("village_id"),
        pl.len().cast(pl.Int32).alias("n_members"),
        poor.fill_null(False).alias("mpi_poor"),
        target.alias("target_poor"),
        (pl.col("mpi_c").max() if "mpi_c" in cols else pl.lit(None, pl.Float64)).alias("max_c"),
        *[(pl.col(f"dep_{i}").fill_null(0) > 0).any().alias(f"_d_{i}") for i in inds],
        *[(pl.col(f"elig_{p}").fill_null(False) & ~pl.col(f"cov_{p}").fill_null(False)).any()
          .alias(f"excl_{p}") for p in progs],
    ]
    for grp, col in (("child", "grp_child"), ("elderly", "grp_elderly"),
                     ("disabled", "grp_disabled")):
        if col in cols:
            aggs.append(pl.col(col).fill_null(False).any().alias(f"_t_{grp}"))
        elif grp == "child" and "age" in cols:
            aggs.append((pl.col("age") < 18).any().alias("_t_child"))
        elif grp == "elderly" and "age" in cols:
            aggs.append((pl.col("age") >= 60).any().alias("_t_elderly"))
        elif grp == "disabled" and "disabled" in cols:
            aggs.append(pl.col("disabled").fill_null(False).any().alias("_t_disabled"))
    hh = lf.group_by("hh_id").agg(aggs).collect()
    failing = pl.concat_str([pl.when(pl.col(f"_d_{i}")).then(pl.lit(i)) for i in inds],
                            separator=",", ignore_nulls=True) if inds else pl.lit("")
    excluded = pl.concat_str([pl.when(pl.col(f"excl_{p}")).then(pl.lit(p)) for p in progs],
                             separator=",", ignore_nulls=True) if progs else pl.lit("")
    types = [g for g in ("child", "elderly", "disabled") if f"_t_{g}" in hh.columns]
    htype = pl.concat_str([pl.when(pl.col(f"_t_{g}")).then(pl.lit(g)) for g in types],
                          separator="+", ignore_nulls=True) if types else pl.lit("")
    hh = hh.with_columns(failing=failing.fill_null(""), excluded=excluded.fill_null(""),
                         household_type=htype.fill_null(""))
    hh = hh.with_columns(household_type=pl.when(pl.col("household_type") == "")
                         .then(pl.lit("other")).otherwise("household_type"))
    for p in PROGRAMMES:
        if f"excl_{p}" not in hh.columns:
            hh = hh.with_columns(pl.lit(False).alias(f"excl_{p}"))
    return hh.drop([c for c in hh.columns if c.startswith(("_d_", "_t_"))]).sort("hh_id")


def target_rule(workflow: Workflow | None = None) -> pl.Expr:
    """The households that get a case, as an expression over :func:`household_frame`."""
    wf = workflow or load_workflow()
    rule = pl.lit(False)
    if wf.include_mpi_poor:
        rule = rule | pl.col("mpi_poor")
    if wf.include_target_poor:
        rule = rule | pl.col("target_poor")
    for p in wf.excluded_programmes:
        rule = rule | pl.col(f"excl_{p}")
    return rule


def target_households(persons: pl.DataFrame | pl.LazyFrame,
                      workflow: Workflow | None = None) -> pl.DataFrame:
    """:func:`household_frame` rows that get a follow-up case."""
    return household_frame(persons).filter(target_rule(workflow))
