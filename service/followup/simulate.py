"""Simulated follow-up on demo data: help with a known effect, and the next round it causes.

:func:`simulate_round` takes a round's raw persons (demo generator output, CONTRACT §1),
picks households to help and writes the next round's persons, with these documented rules
(docs/followup.md, "Simulated effect"):

1. The population is the baseline's poor households (MPI poor or TPMAP target poor).
2. Selection is confounded on purpose, as in the field (teams visit the households nearest
   to exit first): the chance of being helped is ``help_share`` × (1.5 for 1 failing
   indicator, 1.0 for 2-3, 0.5 for 4+), capped at 0.95.
3. Without help a household exits poverty with probability ``base_exit`` × (1.6, 1.0, 0.5 by
   the same buckets): also driven by the profile, so a naive helped-vs-not comparison is
   biased upwards and only matching on the profile recovers the effect.
4. Help adds ``effect`` to that probability (capped at 1): the true average effect on the
   treated is exactly ``effect`` wherever no cap binds (the defaults keep every probability
   below 1).
5. A household that exits has every BMN indicator of every member met (0) and an income of
   at least 40,000 THB per person per year, so it is neither MPI poor nor TPMAP target poor
   when scored again. Everything else, including every other household, stays as it was.

The help records name ``action`` and ``agency`` (default: job training by the Skill
Development Office) and are dated in the year between the rounds.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from service import vocabulary
from service.followup.households import household_frame
from service.settings import SettingsLike, as_settings

INDICATORS = tuple(vocabulary.INDICATORS)
_HELP_MULT = {1: 1.5, 2: 1.0, 3: 1.0, 4: 0.5}
_EXIT_MULT = {1: 1.6, 2: 1.0, 3: 1.0, 4: 0.5}


def _score(raw: pl.DataFrame) -> pl.DataFrame:
    from service.analysis.coverage import load_programmes
    from service.analysis.mpi import score_persons
    from service.analysis.spec import load_spec

    return score_persons(raw, load_spec("tpmap"), load_programmes())


def simulate_round(raw: pl.DataFrame, *, seed: int = 2562, help_share: float = 0.4,
                   base_exit: float = 0.15, effect: float = 0.25,
                   action: str = "job_training", agency: str = "dsd",
                   year: int = 2026) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(next round's raw persons, help records ``hh_id, province_code, amphoe_code,
    tambon_code, given_on, agency, action, horizon, amount_thb``)."""
    rng = np.random.default_rng(seed)
    hh = household_frame(_score(raw)).filter(pl.col("mpi_poor") | pl.col("target_poor"))
    n_fail = hh["failing"].str.count_matches(",").to_numpy() + 1
    n_fail = np.where(hh["failing"].to_numpy() == "", 0, n_fail)
    bucket = np.clip(n_fail, 1, 4)
    p_help = np.minimum(0.95, help_share * np.vectorize(_HELP_MULT.get)(bucket))
    helped = rng.random(hh.height) < p_help
    p_exit = base_exit * np.vectorize(_EXIT_MULT.get)(bucket) + effect * helped
    exits = rng.random(hh.height) < np.minimum(p_exit, 1.0)
    exited = hh.filter(pl.Series(exits))["hh_id"]
    inds = [c for c in INDICATORS if c in raw.columns]
    out = raw.with_columns(
        *[pl.when(pl.col("hh_id").is_in(exited.implode()) & pl.col(c).is_not_null())
          .then(pl.lit(0, dtype=raw.schema[c])).otherwise(pl.col(c)).alias(c) for c in inds],
        pl.when(pl.col("hh_id").is_in(exited.implode()))
        .then(pl.max_horizontal(pl.col("income_per_person_thb"), pl.lit(40_000.0))
              .cast(raw.schema["income_per_person_thb"]))
        .otherwise(pl.col("income_per_person_thb")).alias("income_per_person_thb"))
    got = hh.filter(pl.Series(helped))
    days = rng.integers(0, 365, got.height)
    start = dt.date(year, 1, 1)
    records = got.select(
        "hh_id", "province_code", "amphoe_code", "tambon_code",
        pl.Series("given_on", [start + dt.timedelta(days=int(d)) for d in days],
                  dtype=pl.Date),
        pl.lit(agency).alias("agency"), pl.lit(action).alias("action"),
        pl.lit("medium").alias("horizon"), pl.lit(3000.0).alias("amount_thb"))
    return out, records


def scored_households(raw: pl.DataFrame) -> pl.DataFrame:
    """Household frame of raw persons after scoring (both rounds of a simulation)."""
    return household_frame(_score(raw))


def simulate_dataset(settings: SettingsLike, raw: pl.DataFrame, *, dataset: str,
                     rounds: tuple[int, int] = (2566, 2567), seed: int = 2562,
                     effect: float = 0.25, cases: object | None = None) -> dict:
    """Build a two-round demo dataset in which help had a known effect.

    Round 1 = ``raw`` (built with the pipeline); its follow-up is opened (a case per target
    household of every province) and the simulated help is recorded on those cases through
    :meth:`CaseStore.insert_assistance`; round 2 = :func:`simulate_round` of ``raw``, built
    and made current. Returns the version ids, the number of help records and the effect.
    """
    settings = as_settings(settings)
    import tempfile
    from pathlib import Path

    from service.followup.households import target_households
    from service.followup.store import ASSIST_COLUMNS, CaseStore
    from service.pipeline import build_version

    store = cases if isinstance(cases, CaseStore) else CaseStore(settings.database_url)
    nxt, help_ = simulate_round(raw, seed=seed, effect=effect)

    class System:
        username, role, province = "simulation", "national", None

    out: dict = {"dataset": dataset, "effect": effect}
    with tempfile.TemporaryDirectory(prefix="chipao-simulate-") as tmp:
        for rnd, frame in zip(rounds, (raw, nxt), strict=True):
            d = Path(tmp) / str(rnd) / "persons"
            d.mkdir(parents=True)
            for (prov,), part in frame.partition_by("province_code", as_dict=True).items():
                part.write_parquet(d / f"{prov}.parquet")
            version = build_version(settings, dataset=dataset, round=rnd, progress=False,
                                    persons_dir=d.parent)
            out[f"version_{rnd}"] = version.id
            if rnd != rounds[0]:
                continue
            targets = target_households(_score(frame))
            for prov in sorted(targets["province_code"].unique().to_list()):
                store.sync_cases(dataset, version_id=version.id, round=rnd, province=prov,
                                 households=targets)
            ids = store.cases_by_hh(dataset, help_["hh_id"].to_list())
            rows = (help_.join(ids.select("hh_id", "case_id"), on="hh_id", how="inner")
                    .with_columns(note=pl.lit("simulated"), source_row=pl.lit(None, pl.Int64)))
            store.insert_assistance(dataset, rows.select(ASSIST_COLUMNS), actor=System())
            out["help_records"] = rows.height
    return out


# -- simulated help on an existing two-round panel (the national demo) ------------------------
#: scored-person columns a household out of poverty has false / zero (rule 5 on scored data)
_NOT_POOR = ("mpi_poor", "hh_mpi_poor", "mpi_vulnerable", "mpi_severe", "hh_crossgen",
             "tpmap_target_poor", "tpmap_deprived_any")


def assign_help(baseline: pl.DataFrame, *, seed: int = 2562, help_share: float = 0.4,
                action: str = "job_training", agency: str = "dsd",
                year: int = 2026) -> pl.DataFrame:
    """Help records (columns of :func:`simulate_round`'s) for the poor households of a
    baseline :func:`~service.followup.households.household_frame`, chosen by rules 1-2
    (confounded: ``help_share`` × 1.5 / 1.0 / 0.5 by the number of failing indicators)."""
    rng = np.random.default_rng(seed)
    hh = baseline.filter(pl.col("mpi_poor") | pl.col("target_poor")).sort("hh_id")
    n_fail = hh["failing"].str.count_matches(",").to_numpy() + 1
    n_fail = np.where(hh["failing"].to_numpy() == "", 0, n_fail)
    bucket = np.clip(n_fail, 1, 4)
    p_help = np.minimum(0.95, help_share * np.vectorize(_HELP_MULT.get)(bucket))
    got = hh.filter(pl.Series(rng.random(hh.height) < p_help))
    days = rng.integers(0, 365, got.height)
    start = dt.date(year, 1, 1)
    return got.select(
        "hh_id", "province_code", "amphoe_code", "tambon_code",
        pl.Series("given_on", [start + dt.timedelta(days=int(d)) for d in days],
                  dtype=pl.Date),
        pl.lit(agency).alias("agency"), pl.lit(action).alias("action"),
        pl.lit("medium").alias("horizon"), pl.lit(3000.0).alias("amount_thb"))


def help_exits(follow: pl.DataFrame, helped: pl.Series, *, effect: float,
               seed: int = 2563) -> pl.DataFrame:
    """Which helped households the help takes out of poverty, on a real next round.

    ``follow`` is the next round's household frame: its poverty flags are what happened
    without help (the potential outcome Y(0) of every helped household). A helped household
    still poor there leaves poverty because of the help with probability ``effect``; one
    that left anyway is not changed. So each helped household's Y(1) − Y(0) is known, and
    the true effect on the helped is the number of these exits over the helped households
    present in both rounds (reported by the caller). Returns ``hh_id`` of those exits."""
    rng = np.random.default_rng(seed)
    stayed = follow.filter(pl.col("hh_id").is_in(helped.implode())
                           & (pl.col("mpi_poor") | pl.col("target_poor"))).sort("hh_id")
    return stayed.filter(pl.Series(rng.random(stayed.height) < effect)).select("hh_id")


def exit_scored(persons: pl.DataFrame, hh_ids: pl.Series) -> pl.DataFrame:
    """Scored persons with the households ``hh_ids`` out of poverty (rule 5 applied to
    scored data): every BMN indicator met (``dep_*`` 0), deprivation score 0, neither MPI
    poor, vulnerable, severe nor TPMAP target poor or deprived in any dimension. Programme
    eligibility and receipt are unchanged."""
    out = persons.with_columns(pl.col("hh_id").is_in(hh_ids.implode()).alias("_exit"))
    cols = set(out.columns)
    zero = [c for c in out.columns if c.startswith(("dep_", "cdep_"))]
    false = [c for c in (*_NOT_POOR, *(c for c in cols if c.startswith("tpmap_dim_")))
             if c in cols]
    exprs = [pl.when(pl.col("_exit") & pl.col(c).is_not_null())
             .then(pl.lit(0, dtype=out.schema[c])).otherwise(pl.col(c)).alias(c) for c in zero]
    exprs += [pl.when(pl.col("_exit")).then(pl.lit(False)).otherwise(pl.col(c)).alias(c)
              for c in false]
    if "mpi_c" in cols:
        exprs.append(pl.when(pl.col("_exit")).then(pl.lit(0.0, dtype=out.schema["mpi_c"]))
                     .otherwise(pl.col("mpi_c")).alias("mpi_c"))
    return out.with_columns(exprs).drop("_exit")
