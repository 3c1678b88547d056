"""Synthetic area tables (CONTRACT §3 shape) over the real boundaries, for map tests and
``chipao bench maps``: drawing cost depends on the geometry and the number of areas, not on
the figures, so the benchmark needs no ingest run. Counts are summed before ratios, as in
service.analysis.aggregate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from service import vocabulary
from service.geo import boundaries

INDICATORS = tuple(vocabulary.INDICATORS)
DIMENSIONS = tuple(vocabulary.DIMENSIONS)
GROUPS = tuple(vocabulary.GROUPS)
PROGRAMMES = tuple(vocabulary.PROGRAMMES)


def counts_frame(codes, *, seed: int = 0, small_every: int = 0) -> pd.DataFrame:
    """Count columns for ``codes``; every ``small_every``-th area has < 10 households."""
    rng = np.random.default_rng(seed)
    n = len(codes)
    hh = rng.integers(50, 3000, n)
    if small_every:
        hh[::small_every] = rng.integers(1, 9, len(hh[::small_every]))
    persons = (hh * rng.uniform(2.5, 3.5, n)).astype("int64")
    rate = rng.beta(2, 12, n)
    poor = rng.binomial(persons, rate)
    out: dict[str, Any] = {
        "code": list(codes), "n_households": hh, "n_persons": persons, "n_poor": poor,
        "sum_c_poor": poor * rng.uniform(0.3, 0.5, n),
        "n_vulnerable": rng.binomial(persons, 0.1), "n_severe": rng.binomial(poor, 0.2),
        "n_deprived_any": rng.binomial(persons, 0.3),
        "n_target_poor": rng.binomial(poor, 0.6),
        "n_poor_households": rng.binomial(hh, rate),
        "n_crossgen_households": rng.binomial(hh, rate / 3),
    }
    for ind in INDICATORS:
        out[f"n_dep_{ind}"] = rng.binomial(persons, rng.uniform(0.02, 0.3))
        out[f"n_cdep_{ind}"] = np.minimum(out[f"n_dep_{ind}"], rng.binomial(poor, 0.5))
    for dim in DIMENSIONS:
        out[f"n_target_poor_{dim}"] = rng.binomial(out["n_target_poor"], 0.4)
    for g in GROUPS:
        members = rng.binomial(persons, 0.2)
        out[f"n_{g}"] = members
        out[f"n_poor_{g}"] = rng.binomial(members, rate)
        out[f"sum_c_poor_{g}"] = out[f"n_poor_{g}"] * 0.4
    frame = pd.DataFrame(out)
    for p in PROGRAMMES:
        elig = rng.binomial(persons, 0.15)
        excl = rng.binomial(elig, rng.uniform(0.05, 0.4))
        frame[f"n_elig_{p}"] = elig
        frame[f"n_excl_{p}"] = excl
        frame[f"n_cov_{p}"] = elig - excl
        frame[f"n_incl_err_{p}"] = 0
        frame[f"cov_{p}"] = np.where(elig > 0, 1 - excl / np.maximum(elig, 1), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["h"] = np.where(persons > 0, poor / persons, np.nan)
        frame["m0"] = np.where(persons > 0, frame["sum_c_poor"] / persons, np.nan)
        frame["a"] = np.where(poor > 0, frame["sum_c_poor"] / np.maximum(poor, 1), np.nan)
    return frame


def admin_areas(boundaries_dir: str, level: str, *, provinces=None, seed: int = 0,
                small_every: int = 0) -> pd.DataFrame:
    """A §3 area table of an admin level (optionally some provinces only)."""
    frame = boundaries.load_level(boundaries_dir, level).drop(columns="geometry")
    if level == "province":
        frame["province_code"] = frame["code"]
    if provinces is not None:
        frame = frame[frame["province_code"].isin(list(provinces))]
    counts = counts_frame(frame["code"].tolist(), seed=seed, small_every=small_every)
    ident = pd.DataFrame({
        "level": level, "code": frame["code"].to_numpy(),
        "parent_code": [boundaries.parent_code(c) or "TH" for c in frame["code"]],
        "name_th": frame["name_th"].to_numpy(), "name_en": frame["name_en"].to_numpy(),
        "province_code": frame["province_code"].to_numpy(),
    })
    return pd.concat([ident, counts.drop(columns="code")], axis=1)


def h3_areas(boundaries_dir: str, resolution: int, *, provinces=None, seed: int = 0
             ) -> pd.DataFrame:
    """H3 cells covering provinces (all when None), with synthetic counts."""
    import h3
    import shapely

    prov = boundaries.load_level(boundaries_dir, "province")
    if provinces is not None:
        prov = prov[prov["code"].isin(list(provinces))]
    codes: list[str] = []
    owners: list[str] = []
    for code, geom in zip(prov["code"], prov.geometry, strict=True):
        parts = list(geom.geoms) if isinstance(geom, shapely.MultiPolygon) else [geom]
        for part in parts:
            cells = h3.geo_to_cells(part, resolution)
            codes.extend(cells)
            owners.extend([code] * len(cells))
    frame = pd.DataFrame({"code": codes, "province_code": owners}).drop_duplicates("code")
    counts = counts_frame(frame["code"].tolist(), seed=seed)
    ident = pd.DataFrame({
        "level": f"h3_r{resolution}", "code": frame["code"].to_numpy(),
        "parent_code": [h3.cell_to_parent(c, resolution - 1) for c in frame["code"]],
        "name_th": None, "name_en": None,
        "province_code": frame["province_code"].to_numpy(),
    })
    return pd.concat([ident.reset_index(drop=True), counts.drop(columns="code")], axis=1)


def village_areas(boundaries_dir: str, tambon_codes, *, seed: int = 0, per_tambon: int = 8
                  ) -> pd.DataFrame:
    """Villages (moo 1..per_tambon) of tambons, with points inside their tambon."""
    rng = np.random.default_rng(seed)
    tambons = boundaries.load_level(boundaries_dir, "tambon").set_index("code")
    codes = [f"{t}{m:02d}" for t in tambon_codes for m in range(1, per_tambon + 1)]
    counts = counts_frame(codes, seed=seed, small_every=5)
    ident = pd.DataFrame({
        "level": "village", "code": codes, "parent_code": [c[:8] for c in codes],
        "name_th": [f"หมู่ {int(c[8:])}" for c in codes],
        "name_en": [f"Moo {int(c[8:])}" for c in codes],
        "province_code": [c[:4] for c in codes],
    })
    frame = pd.concat([ident, counts.drop(columns="code")], axis=1)
    centres = tambons.loc[[c[:8] for c in codes], "geometry"].representative_point()
    frame["lon"] = centres.x.to_numpy() + rng.uniform(-0.01, 0.01, len(frame))
    frame["lat"] = centres.y.to_numpy() + rng.uniform(-0.01, 0.01, len(frame))
    return frame
