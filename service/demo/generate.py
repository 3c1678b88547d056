"""The calibrated national demo-data generator (``chipao demo-data``).

Writes ``<out>/persons/<province>.parquet`` (docs/CONTRACT.md section 1), one province at a
time so memory stays bounded, and ``<out>/manifest.json``. Every random draw comes from a
generator seeded by (seed, area code, purpose), so any subset of provinces or amphoes
reproduces exactly the rows of the national run.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import polars as pl
import shapely

from service.demo.calibration import IND, recipients, units
from service.demo.households import APPLIES, IND_POS, generate_unit
from service.geo.boundaries import load_level

log = logging.getLogger(__name__)

GENERATOR_VERSION = "1.1"
VILLAGE_HOUSEHOLDS = 150
MAX_VILLAGES = 99  # village ids carry a 2-digit moo number
#: programme coverage seeds and assumptions (docs/calibration.md)
ELDERLY_ALLOWANCE_RATE = 0.817
DISABILITY_ALLOWANCE_RATE = 0.756
CHILD_GRANT_RATE = 0.845
CHILD_GRANT_LEAK = 0.03
CHILD_GRANT_AGE = 6  # under 6 (programmes.json)
CHILD_GRANT_INCOME = 100_000.0
INFORMAL_SOCIAL_SECURITY_RATE = 0.207

PURPOSE = {"unit": 1, "municipal": 2, "place": 3, "people": 4, "identity": 5}


def _rng(seed: int, code: str, purpose: str) -> np.random.Generator:
    return np.random.default_rng([seed, int(code[2:]), PURPOSE[purpose]])


def _boundaries_dir(boundaries_dir: str | Path | None) -> str:
    if boundaries_dir is not None:
        return str(boundaries_dir)
    from service.settings import settings_from_env

    return str(settings_from_env().boundaries_dir)


@functools.lru_cache(maxsize=2)
def _tambons(boundaries_dir: str):
    gdf = load_level(boundaries_dir, "tambon")
    gdf["area_km2"] = gdf.to_crs(6933).area / 1e6
    return gdf


@functools.lru_cache(maxsize=2)
def _tambon_index(boundaries_dir: str) -> tuple[np.ndarray, dict[str, int]]:
    """(sorted tambon codes, code -> position): households carry the position, an integer
    that sorts as the code does (numpy sorts integers many times faster than strings)."""
    names = np.array(sorted(_tambons(boundaries_dir)["code"]), dtype=object)
    return names, {c: i for i, c in enumerate(names)}


@functools.lru_cache(maxsize=2)
def calibration_plan(boundaries_dir: str) -> tuple[pl.DataFrame, dict]:
    """(units, report) of :func:`service.demo.calibration.units` for these boundaries."""
    gdf = _tambons(boundaries_dir)
    table = pl.from_pandas(gdf[["code", "amphoe_code", "province_code", "area_km2"]])
    return units(table)


def province_codes(boundaries_dir: str | Path | None = None) -> list[str]:
    plan, _ = calibration_plan(_boundaries_dir(boundaries_dir))
    return sorted(plan["province_code"].unique().to_list())


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    raw = total * weights
    q = np.floor(raw).astype(np.int64)
    short = total - int(q.sum())
    if short:
        q[np.argsort(-(raw - q), kind="stable")[:short]] += 1
    return q


def _points_in(rng: np.random.Generator, geom, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n random points inside a polygon (vectorised rejection sampling)."""
    minx, miny, maxx, maxy = geom.bounds
    xs, ys, got = [], [], 0
    frac = max(shapely.area(geom) / max((maxx - minx) * (maxy - miny), 1e-12), 0.02)
    for _ in range(50):
        m = int((n - got) / frac * 1.3) + 16
        x = rng.uniform(minx, maxx, m)
        y = rng.uniform(miny, maxy, m)
        ok = shapely.contains_xy(geom, x, y)
        xs.append(x[ok])
        ys.append(y[ok])
        got += int(ok.sum())
        if got >= n:
            break
    x = np.concatenate(xs)[:n]
    y = np.concatenate(ys)[:n]
    if len(x) < n:  # a sliver polygon: use its representative point
        p = shapely.get_coordinates(geom.representative_point())[0]
        x = np.concatenate([x, np.full(n - len(x), p[0])])
        y = np.concatenate([y, np.full(n - len(y), p[1])])
    return x, y


def _place_tambon(rng: np.random.Generator, geom, n_hh: int) -> tuple[np.ndarray, ...]:
    """Village number (1..n) and lon/lat of each household of one tambon."""
    n_v = int(np.clip(round(n_hh / VILLAGE_HOUSEHOLDS), 1, MAX_VILLAGES))
    moo = (np.argsort(rng.permutation(n_hh)) * n_v) // max(n_hh, 1) + 1
    cx, cy = _points_in(rng, geom, n_v)
    # households scatter ~ a third of the typical village spacing around the centre
    spread = float(np.clip(0.3 * np.sqrt(shapely.area(geom) / n_v), 0.0005, 0.01))
    x = cx[moo - 1] + rng.normal(0, spread, n_hh)
    y = cy[moo - 1] + rng.normal(0, spread, n_hh)
    shapely.prepare(geom)
    for _ in range(8):
        out = ~shapely.contains_xy(geom, x, y)
        if not out.any():
            break
        k = int(out.sum())
        x[out] = cx[moo[out] - 1] + rng.normal(0, spread, k)
        y[out] = cy[moo[out] - 1] + rng.normal(0, spread, k)
    else:
        out = ~shapely.contains_xy(geom, x, y)
        x[out] = cx[moo[out] - 1]
        y[out] = cy[moo[out] - 1]
    return moo, x, y


def _units_of(plan: pl.DataFrame, province: str, amphoes: set[str] | None) -> pl.DataFrame:
    sel = plan.filter(pl.col("province_code") == province)
    if amphoes:
        sel = sel.filter(pl.col("amphoe_code").is_in(list(amphoes)))
    return sel.sort("code")


def generate_province(province: str, *, seed: int, boundaries_dir: str | Path | None = None,
                      amphoes: Iterable[str] | None = None,
                      with_identifiers: bool = False) -> pl.DataFrame:
    """Person table (CONTRACT section 1) of one province (or some of its amphoes)."""
    bdir = _boundaries_dir(boundaries_dir)
    plan, _ = calibration_plan(bdir)
    gdf = _tambons(bdir)
    amph = set(amphoes) if amphoes else None
    sel = _units_of(plan, province, amph)
    if sel.height == 0:
        raise ValueError(f"no calibration data for province {province!r}"
                         + (f" and amphoes {sorted(amph)}" if amph else "")
                         + " / ไม่มีข้อมูลสำหรับพื้นที่นี้")
    real = sel.filter(pl.col("tambon_code").is_not_null())
    names, index = _tambon_index(bdir)
    parts: list[dict[str, np.ndarray]] = []
    offset = 0
    for row in sel.iter_rows(named=True):
        arr = generate_unit(row, _rng(seed, row["code"], "unit"))
        n_hh = row["households"]
        # position of the household's tambon in ``names`` (-1: filled per amphoe below)
        at = index[row["tambon_code"]] if row["tambon_code"] is not None else -1
        hh_tambon = np.full(n_hh, at, dtype=np.int64)
        arr["hh_global"] = arr.pop("hh") + offset
        arr["_hh_tambon"] = hh_tambon
        arr["_unit"] = np.full(len(arr["age"]), row["code"], dtype=object)
        offset += n_hh
        parts.append(arr)
    # municipal households -> real tambons of their amphoe
    kinds = sel["kind"].to_list()
    codes = sel["code"].to_list()
    for amphoe in sorted({c[:6] for c, k in zip(codes, kinds, strict=True)
                          if k in ("municipal", "unknown")}):
        idx = [i for i, (c, k) in enumerate(zip(codes, kinds, strict=True))
               if c[:6] == amphoe and k in ("municipal", "unknown")]
        tambons = pl.from_pandas(gdf.loc[gdf["amphoe_code"] == amphoe, ["code", "area_km2"]])
        targets, weights = recipients(tambons, real.filter(pl.col("amphoe_code") == amphoe))
        total = sum(len(parts[i]["_hh_tambon"]) for i in idx)
        quota = _largest_remainder(total, weights)
        assign = np.repeat(np.array([index[c] for c in targets], dtype=np.int64), quota)
        assign = assign[_rng(seed, amphoe, "municipal").permutation(total)]
        pos = 0
        for i in idx:
            k = len(parts[i]["_hh_tambon"])
            parts[i]["_hh_tambon"] = assign[pos:pos + k]
            pos += k
    hh_tambon = np.concatenate([p.pop("_hh_tambon") for p in parts])
    person = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "fails"}
    fails = np.concatenate([p["fails"] for p in parts])
    del parts
    tambon = hh_tambon[person["hh_global"]]
    # order by tambon, then household (own households first, then municipal ones)
    order = np.lexsort((person["hh_global"], tambon))
    person = {k: v[order] for k, v in person.items()}
    fails = fails[order]
    tambon = tambon[order]
    return _finish(province, person, fails, tambon, names, gdf, seed, with_identifiers)


def _finish(province, person, fails, tambon, names, gdf, seed,
            with_identifiers) -> pl.DataFrame:
    """The person table; ``tambon`` holds positions in ``names`` (sorted tambon codes)."""
    n = len(tambon)
    hh_g = person["hh_global"]
    new_hh = np.ones(n, dtype=bool)
    new_hh[1:] = (hh_g[1:] != hh_g[:-1]) | (tambon[1:] != tambon[:-1])
    hh_index = np.cumsum(new_hh) - 1  # province-wide household number
    n_hh = int(hh_index[-1]) + 1 if n else 0
    hh_tambon = tambon[new_hh]
    # member number inside the household
    starts = np.flatnonzero(new_hh)
    member = np.arange(n) - starts[hh_index] + 1
    # household number inside the tambon, village and location
    hh_no = np.empty(n_hh, dtype=np.int64)
    moo = np.empty(n_hh, dtype=np.int64)
    lon = np.empty(n_hh)
    lat = np.empty(n_hh)
    geoms = dict(zip(gdf["code"], gdf.geometry, strict=True))
    t_new = np.ones(n_hh, dtype=bool)
    t_new[1:] = hh_tambon[1:] != hh_tambon[:-1]
    t_starts = np.append(np.flatnonzero(t_new), n_hh)
    for a, b in zip(t_starts[:-1], t_starts[1:], strict=True):
        code = names[hh_tambon[a]]
        hh_no[a:b] = np.arange(1, b - a + 1)
        moo[a:b], lon[a:b], lat[a:b] = _place_tambon(_rng(seed, code, "place"), geoms[code],
                                                     b - a)
    # per-person draws come from one generator per tambon, so subsets reproduce the rows
    p_new = np.ones(n, dtype=bool)
    p_new[1:] = tambon[1:] != tambon[:-1]
    p_starts = np.append(np.flatnonzero(p_new), n)
    u = np.empty((7, n))
    for a, b in zip(p_starts[:-1], p_starts[1:], strict=True):
        u[:, a:b] = _rng(seed, names[tambon[a]], "people").uniform(size=(7, b - a))
    age = person["age"]
    income = person["income"]
    disabled = person["disabled"]
    validated = person["validated"]
    old = age >= 60
    female = u[0] < np.where(old, 0.56, 0.51)
    poor_child_hh = income < CHILD_GRANT_INCOME
    child = age < CHILD_GRANT_AGE
    child_grant = child & (u[1] < np.where(poor_child_hh, CHILD_GRANT_RATE, CHILD_GRANT_LEAK))
    no_work = fails[:, IND_POS[20]] | fails[:, IND_POS[21]]
    p_work = np.select([(age >= 15) & (age <= 22), (age >= 23) & (age <= 59),
                        (age >= 60) & (age <= 64)], [0.45, 0.88, 0.5], 0.0)
    employed = (u[2] < p_work) & ~no_work
    informal = employed & (u[3] < np.where(validated, 0.85, 0.5))
    social_security = employed & (~informal | (u[4] < INFORMAL_SOCIAL_SECURITY_RATE))
    present = np.unique(tambon)  # the province's tambons, as strings once each
    tambon_s = pl.Series("tambon_code", names[present].tolist(), dtype=pl.Utf8).gather(
        np.searchsorted(present, tambon))
    hh_no_p = hh_no[hh_index]
    frame = pl.DataFrame({
        "hh_no": hh_no_p, "member": member, "tambon_code": tambon_s,
        "moo": moo[hh_index],
    }).select(
        pl.concat_str([pl.col("tambon_code"), pl.lit("-"),
                       pl.col("hh_no").cast(pl.Utf8).str.zfill(5)]).alias("hh_id"),
        pl.col("member"),
        pl.concat_str([pl.col("tambon_code"), pl.col("moo").cast(pl.Utf8).str.zfill(2)])
        .alias("village_id"),
        pl.col("tambon_code"),
    ).select(
        pl.concat_str([pl.col("hh_id"), pl.lit("-"),
                       pl.col("member").cast(pl.Utf8).str.zfill(2)]).alias("person_id"),
        "hh_id", "village_id", "tambon_code",
        pl.col("tambon_code").str.slice(0, 6).alias("amphoe_code"),
        pl.col("tambon_code").str.slice(0, 4).alias("province_code"),
    )
    cols: dict[str, pl.Series] = {
        "lon": pl.Series(lon[hh_index], dtype=pl.Float64),
        "lat": pl.Series(lat[hh_index], dtype=pl.Float64),
        "age": pl.Series(age, dtype=pl.Int16),
        "sex": pl.Series(["M", "F"], dtype=pl.Utf8).gather(female.astype(np.uint32)),
        "disabled": pl.Series(disabled),
        "chronic": pl.Series(person["chronic"]),
        "welfare_card_registered": pl.Series(person["registered"]),
        "welfare_card": pl.Series(validated),
        "elderly_allowance": pl.Series(old & (u[5] < ELDERLY_ALLOWANCE_RATE)),
        "disability_allowance": pl.Series(disabled & (u[6] < DISABILITY_ALLOWANCE_RATE)),
        "child_grant": pl.Series(child_grant),
        "social_security": pl.Series(social_security),
        "informal_worker": pl.Series(informal),
        "income_per_person_thb": pl.Series(income, dtype=pl.Float32),
    }
    for k, ind in enumerate(IND):
        applies = np.ones(n, dtype=bool)
        if ind in APPLIES:
            lo, hi = APPLIES[ind]
            applies = (age >= lo) & (age <= hi)
        elif ind == 28:
            applies = disabled
        value = fails[:, k].astype(np.int8)
        cols[f"ind{ind}"] = pl.Series(value, dtype=pl.Int8).set(
            pl.Series(~applies & ~fails[:, k]), None)
    frame = frame.with_columns(**{k: v.alias(k) for k, v in cols.items()})
    if with_identifiers:
        from service.demo.identifiers import synthetic_identities

        sex = np.where(female, "F", "M")
        parts = [synthetic_identities(_rng(seed, names[tambon[a]], "identity"), age[a:b],
                                      sex[a:b])
                 for a, b in zip(p_starts[:-1], p_starts[1:], strict=True)]
        frame = frame.with_columns(**{k: pl.Series(k, np.concatenate([q[k] for q in parts]))
                                      for k in ("national_id", "first_name", "last_name")})
    return frame


def write_province(job: tuple[str, list[str] | None], *, seed: int, boundaries_dir: str,
                   out: str, with_identifiers: bool) -> tuple[str, dict, int]:
    """Generate one province into ``<out>/persons/<code>.parquet`` (atomic rename); returns
    (code, counts, TPMAP target poor of the province: the panel's base)."""
    from service.demo.panel import target_poor

    code, sub = job
    t1 = time.perf_counter()
    frame = generate_province(code, seed=seed, boundaries_dir=boundaries_dir, amphoes=sub,
                              with_identifiers=with_identifiers)
    path = Path(out) / "persons" / f"{code}.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    frame.write_parquet(tmp, compression="zstd")
    os.replace(tmp, path)
    log.info("demo data %s: %s people in %.1f s", code, f"{frame.height:,}",
             time.perf_counter() - t1)
    return (code, {"n_households": int(frame["hh_id"].n_unique()), "n_persons": frame.height},
            target_poor(frame))


def generate(provinces: Iterable[str] | None = None, *, seed: int = 2561,
             out: str | Path, amphoes: Iterable[str] | None = None,
             with_identifiers: bool = False,
             boundaries_dir: str | Path | None = None,
             processes: int | None = None, target_poor: dict[str, int] | None = None) -> dict:
    """Generate the person tables of ``provinces`` (None = all 77) into ``out``; returns the
    manifest (also written to ``<out>/manifest.json``). ``processes`` (default: one per
    core) generate provinces side by side. ``target_poor`` (a dict) receives each
    province's TPMAP target poor, counted before the frame is written."""
    bdir, jobs, request = province_jobs(provinces, amphoes=amphoes, boundaries_dir=boundaries_dir)
    plan, _ = calibration_plan(bdir)
    out = Path(out)
    (out / "persons").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    run = functools.partial(write_province, seed=seed, boundaries_dir=bdir, out=str(out),
                            with_identifiers=with_identifiers)
    n = processes if processes is not None else min(len(jobs), os.cpu_count() or 1)
    if n > 1 and len(jobs) > 1:
        # provinces are independent (every draw is seeded by its area code): the same
        # files, byte for byte, whichever process writes them; results kept in order
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn")) as pool:
            # the biggest provinces first, so that the last tasks are small ones
            size = dict(plan.group_by("province_code").agg(pl.col("households").sum())
                        .iter_rows())
            results = list(pool.map(run, sorted(jobs, key=lambda j: -size.get(j[0], 0))))
    else:
        results = list(map(run, jobs))
    done = {code: counts for code, counts, _ in results}
    if target_poor is not None:
        target_poor.update({code: tp for code, _, tp in results})
    manifest = write_manifest(out, done, seed=seed, request=request,
                              with_identifiers=with_identifiers, boundaries_dir=bdir)
    log.info("demo data: %s people in %.1f s", f"{manifest['n_persons']:,}",
             time.perf_counter() - t0)
    return manifest


def province_jobs(provinces: Iterable[str] | None = None, *,
                  amphoes: Iterable[str] | None = None,
                  boundaries_dir: str | Path | None = None
                  ) -> tuple[str, list[tuple[str, list[str] | None]], dict]:
    """(boundaries dir, one (province, amphoes) job per province in code order, the
    request {"provinces", "amphoes"} of the manifest); unknown areas raise ValueError."""
    bdir = _boundaries_dir(boundaries_dir)
    plan, _ = calibration_plan(bdir)
    known = sorted(plan["province_code"].unique().to_list())
    amph = sorted(set(amphoes)) if amphoes else None
    if provinces is None:
        wanted = sorted({a[:4] for a in amph}) if amph else known
    else:
        wanted = sorted(set(provinces))
    unknown = [p for p in wanted if p not in known]
    if unknown:
        raise ValueError(f"unknown province code(s) / ไม่รู้จักรหัสจังหวัด: {', '.join(unknown)} "
                         "(expected e.g. TH75)")
    jobs = []
    for code in wanted:
        sub = [a for a in amph if a.startswith(code)] if amph else None
        if amph and not sub:
            raise ValueError(f"none of the amphoes {', '.join(amph)} lies in {code} / "
                             f"ไม่มีอำเภอที่ระบุอยู่ในจังหวัด {code}")
        jobs.append((code, sub))
    return bdir, jobs, {"provinces": wanted, "amphoes": amph}


def write_manifest(out: str | Path, done: dict[str, dict], *, seed: int, request: dict,
                   with_identifiers: bool, boundaries_dir: str) -> dict:
    """The manifest of a generated round (``done``: province -> counts), written to
    ``<out>/manifest.json`` and returned."""
    _, report = calibration_plan(boundaries_dir)
    per_province: dict[str, dict] = {code: done[code] for code in request["provinces"]}
    manifest = {
        "generator": "chipao.demo",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "provinces": request["provinces"],
        "amphoes": request["amphoes"],
        "with_identifiers": with_identifiers,
        "n_households": sum(v["n_households"] for v in per_province.values()),
        "n_persons": sum(v["n_persons"] for v in per_province.values()),
        "per_province": per_province,
        "calibration": {"source": "TPMAP 2561 (tpmap.in.th), see docs/calibration.md",
                        **report},
    }
    (Path(out) / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False,
                                                        indent=1), encoding="utf-8")
    return manifest
