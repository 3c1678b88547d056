"""Calibration targets of the demo generator, from TPMAP 2561 (2018) public counts.

One *unit* is one block of households generated to match one count vector exactly:

- ``tambon``: a real TPMAP tambon present in the boundaries (its households stay in it);
- ``municipal``: a TPMAP municipal pseudo-tambon (last two digits >= 51) or any TPMAP code
  missing from the boundaries; its households are re-assigned to real tambons of its amphoe
  (see :func:`recipients`);
- ``bangkok``: a Bangkok khwaeng (Bangkok is not in TPMAP), built as a sum of donor tambons of
  the three neighbouring urban provinces (see :func:`bangkok_units`).

The published data are internally consistent except a few tambons; :func:`make_consistent`
fixes those minimally and returns the list of adjustments (documented in docs/calibration.md).
Pure functions: no file writes, no module state except an lru_cache of the CSV reads.
"""

from __future__ import annotations

import functools
import logging
from importlib import resources

import numpy as np
import polars as pl

from service.geo.boundaries import from_dopa

log = logging.getLogger(__name__)

#: the 17 TPMAP BMN indicators, in contract order
IND: tuple[int, ...] = (1, 4, 5, 7, 8, 9, 10, 11, 15, 16, 17, 19, 20, 21, 22, 27, 28)
DIMS: dict[str, tuple[int, ...]] = {
    "health": (1, 4, 5, 7),
    "living": (8, 9, 10, 11),
    "education": (15, 16, 17, 19),
    "income": (20, 21, 22),
    "accessibility": (27, 28),
}
#: short target names -> TPMAP CSV columns
COLUMNS: dict[str, str] = {
    "households": "household.CNT",
    "persons": "HOUSEMEMBER_CNT",
    "registered": "MOF_REG_CNT",
    "validated": "MOF_VAL_CNT",
    "elderly": "ELDERLY_CNT",
    "disabled": "DISABLED_CNT",
    "chronic": "CHRONICPATIENT_CNT",
    "poor_households": "poor.household.CNT",
    "deprived": "poor.JPT.CNT",
    "deprived_registered": "poor.JPT.MOFreg.CNT",
    "target": "poor.JPT.MOFval.CNT",
    **{f"target_{d}": f"poor.JPT.MOFval.{d}" for d in DIMS},
    **{f"target_ind{i}": f"poor.JPT.MOFval.ind{i}.CNT" for i in IND},
}
TARGETS: tuple[str, ...] = tuple(COLUMNS)

#: Bangkok is not in TPMAP. Registered population at the end of 2018 (DOPA, rounded to the
#: thousand): Bangkok and its three urban neighbours whose TPMAP profile is borrowed.
BANGKOK_DONORS = {"TH11": 1_311_000, "TH12": 1_255_000, "TH13": 1_146_000}
BANGKOK_REGISTERED = 5_677_000
#: fixed seed of the Bangkok donor draw: the calibration targets do not depend on --seed
BANGKOK_DONOR_SEED = 2561


def _data(name: str) -> str:
    return str(resources.files("service.demo") / "data" / name)


@functools.lru_cache(maxsize=3)
def _read_tpmap(level: str) -> pl.DataFrame:
    files = {"tambon": ("tpmap2561_tambol_summary.csv", "tumbol_ID"),
             "amphoe": ("tpmap2561_amphur_summary.csv", "amphur_ID"),
             "province": ("tpmap2561_province_summary.csv", "province_ID")}
    name, key = files[level]
    raw = pl.read_csv(_data(name))
    missing = [c for c in (key, *COLUMNS.values()) if c not in raw.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {', '.join(missing)}")
    return raw.select(
        pl.col(key).cast(pl.Utf8).alias("tpmap_code"),
        *[pl.col(src).cast(pl.Int64).alias(dst) for dst, src in COLUMNS.items()],
    )


def tpmap(level: str = "tambon") -> pl.DataFrame:
    """Published TPMAP 2561 counts of one level with short column names and a COD-AB ``code``
    (tambon codes of municipal pseudo-tambons keep their TPMAP digits)."""
    frame = _read_tpmap(level).clone()
    return frame.with_columns(
        pl.col("tpmap_code").map_elements(from_dopa, return_dtype=pl.Utf8).alias("code")
    )


def make_consistent(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[dict]]:
    """Return the counts with the few contradictions of the published data removed, and the
    adjustments made ({code, column, published, used}).

    The person pools must be non-negative: target <= deprived_registered <= deprived,
    deprived_registered - target <= registered - validated (registered, not validated, deprived)
    and deprived - deprived_registered <= persons - registered. Exact counts of households,
    people, elderly, disabled, chronic, validated, registered, deprived and target poor per
    dimension and indicator are never changed.
    """
    fixed = frame.with_columns(
        pl.min_horizontal(
            pl.max_horizontal("deprived_registered", "target"),
            pl.col("target") + pl.col("registered") - pl.col("validated"),
        ).alias("deprived_registered")
    )
    adjustments = []
    changed = fixed.filter(pl.col("deprived_registered") != frame["deprived_registered"])
    for row in changed.join(frame.select("code", pl.col("deprived_registered").alias("pub")),
                            on="code").iter_rows(named=True):
        adjustments.append({"code": row["code"], "column": "deprived_registered",
                            "published": row["pub"], "used": row["deprived_registered"]})
    _check(fixed)
    return fixed, adjustments


def _check(frame: pl.DataFrame) -> None:
    """Raise ValueError naming the unit and column when the counts cannot be generated."""
    c = pl.col
    rules = {
        "persons >= households >= 1": (c("persons") >= c("households")) & (c("households") >= 1),
        "validated <= registered <= persons": (c("validated") <= c("registered"))
        & (c("registered") <= c("persons")),
        "target <= validated": c("target") <= c("validated"),
        "deprived - deprived_registered <= persons - registered":
            (c("deprived") - c("deprived_registered")) <= (c("persons") - c("registered")),
        "elderly, disabled, chronic <= persons":
            pl.max_horizontal("elderly", "disabled", "chronic") <= c("persons"),
        "sum of dimensions >= target": pl.sum_horizontal(*[f"target_{d}" for d in DIMS])
        >= c("target"),
    }
    for d, inds in DIMS.items():
        cols = [f"target_ind{i}" for i in inds]
        rules[f"target_{d} <= target"] = c(f"target_{d}") <= c("target")
        rules[f"max indicator <= target_{d} <= sum of indicators"] = (
            pl.max_horizontal(*cols) <= c(f"target_{d}")
        ) & (c(f"target_{d}") <= pl.sum_horizontal(*cols))
    for text, rule in rules.items():
        bad = frame.filter(~rule)
        if bad.height:
            raise ValueError(
                f"TPMAP counts cannot be generated: {text} fails for {bad.height} unit(s), "
                f"first {bad['code'][0]} (row of tpmap2561_tambol_summary.csv)"
            )


def poor_household_excess() -> pl.Expr:
    """1 for units whose poor-household count cannot be met, else 0: a single poor household
    would have to hold people both below the BMN 22 income line (target poor failing
    indicator 22) and other deprived people above it. The generator then makes two poor
    households (13 tambons in the country)."""
    c = pl.col
    return ((c("target_ind22") > 0) & (c("deprived") > c("target_ind22"))
            & (c("poor_households") == 1)).cast(pl.Int64)


def bangkok_units(tambons: pl.DataFrame, khwaeng: list[tuple[str, float]]) -> pl.DataFrame:
    """Plausible Bangkok units: each khwaeng is the sum of whole donor units (tambons and
    municipal units) of Samut Prakan, Nonthaburi and Pathum Thani, so every internal
    constraint of the published data still holds (the constraints are sums and maxima,
    preserved by addition).

    Bangkok's surveyed people = (surveyed / registered of the three donor provinces) x Bangkok
    registered population; shared among khwaeng in proportion to the square root of their
    area (inner khwaeng are small and dense, outer ones large and sparse).
    ``khwaeng`` is [(code, area_km2)], ``tambons`` the consistent TPMAP units.
    """
    donors = tambons.filter(pl.col("province_code").is_in(list(BANGKOK_DONORS)))
    donor_people = int(donors["persons"].sum())
    total = donor_people / sum(BANGKOK_DONORS.values()) * BANGKOK_REGISTERED
    weights = np.sqrt(np.array([a for _, a in khwaeng], dtype=float))
    goal = total * weights / weights.sum()
    order = np.random.default_rng(BANGKOK_DONOR_SEED).permutation(donors.height)
    values = donors.select(TARGETS).to_numpy()[order]
    people = values[:, TARGETS.index("persons")]
    rows = []
    j = 0
    for (_, _), want in zip(khwaeng, goal, strict=True):
        acc = np.zeros(len(TARGETS), dtype=np.int64)
        have = 0
        while True:
            # of the next 100 donors (cyclic), take the one bringing the total closest to the
            # goal; stop when no donor improves it
            cand = (j + np.arange(min(100, len(values)))) % len(values)
            best = cand[np.argmin(np.abs(have + people[cand] - want))]
            if have and abs(have + people[best] - want) >= abs(have - want):
                break
            acc += values[best]
            have += int(people[best])
            # move the used donor to the front of the window (people is a view of values)
            values[[best, j % len(values)]] = values[[j % len(values), best]]
            j += 1
        rows.append(acc)
    frame = pl.DataFrame(np.vstack(rows), schema=list(TARGETS), orient="row")
    return frame.with_columns(
        code=pl.Series([c for c, _ in khwaeng]),
        tpmap_code=pl.lit(None, dtype=pl.Utf8),
    )


def units(tambons_table: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """All generation units of the country.

    ``tambons_table`` holds the boundary tambons: code, amphoe_code, province_code, area_km2.
    Returns (units, report): units has code (unit id), kind, tambon_code (null for municipal
    units), amphoe_code, province_code and every target column; report lists the adjustments
    and how many people were moved from municipal / unknown codes into real tambons.
    """
    known = set(tambons_table["code"].to_list())
    amphoes = set(tambons_table["amphoe_code"].to_list())
    raw = tpmap("tambon").with_columns(
        pl.col("code").str.slice(0, 6).alias("amphoe_code"),
        pl.col("code").str.slice(0, 4).alias("province_code"),
    )
    muni = (pl.col("tpmap_code").str.slice(4, 2).cast(pl.Int32) >= 51)
    raw = raw.with_columns(
        pl.when(muni).then(pl.lit("municipal"))
        .when(pl.col("code").is_in(list(known))).then(pl.lit("tambon"))
        .otherwise(pl.lit("unknown")).alias("kind")
    )
    lost = raw.filter(~pl.col("amphoe_code").is_in(list(amphoes)))
    if lost.height:
        log.warning("%d TPMAP units (%d people) lie in amphoes missing from the boundaries; "
                    "they are left out", lost.height, int(lost["persons"].sum()))
    raw = raw.filter(pl.col("amphoe_code").is_in(list(amphoes)))
    fixed, adjustments = make_consistent(raw)
    fixed = fixed.with_columns(
        pl.when(pl.col("kind") == "tambon").then(pl.col("code")).otherwise(None)
        .alias("tambon_code")
    )
    bkk = tambons_table.filter(pl.col("province_code") == "TH10").sort("code")
    if bkk.height:
        bk = bangkok_units(fixed, list(zip(bkk["code"], bkk["area_km2"], strict=True)))
        bk = bk.with_columns(
            kind=pl.lit("bangkok"), tambon_code=pl.col("code"),
            amphoe_code=pl.col("code").str.slice(0, 6),
            province_code=pl.col("code").str.slice(0, 4),
        )
        fixed = pl.concat([fixed, bk.select(fixed.columns)], how="vertical")
    moved = fixed.filter(pl.col("kind").is_in(["municipal", "unknown"]))
    report = {
        "adjustments": adjustments,
        "moved_units": moved.height,
        "moved_people": int(moved["persons"].sum()),
        "unknown_units": int((fixed["kind"] == "unknown").sum()),
        "left_out_units": lost.height,
        "left_out_people": int(lost["persons"].sum()) if lost.height else 0,
    }
    return fixed.sort("code"), report


def recipients(amphoe_tambons: pl.DataFrame, real_units: pl.DataFrame) -> tuple[list[str],
                                                                               np.ndarray]:
    """Tambons that receive an amphoe's municipal households, with weights summing to 1.

    Tambons of the amphoe that TPMAP does not list are the ones a municipality covers
    entirely: they receive everything, in proportion to their area. When there are none, the
    households go to the amphoe's tambons in proportion to their TPMAP households.
    """
    listed = set(real_units["tambon_code"].to_list())
    absent = amphoe_tambons.filter(~pl.col("code").is_in(list(listed)))
    if absent.height:
        codes = absent["code"].to_list()
        w = absent["area_km2"].to_numpy().astype(float)
    else:
        codes = real_units["tambon_code"].to_list()
        w = real_units["households"].to_numpy().astype(float)
    if not codes:
        raise ValueError("amphoe without tambons cannot receive municipal households")
    w = np.maximum(w, 1e-9)
    return codes, w / w.sum()
