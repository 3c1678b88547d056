"""ingest -> locate -> score -> aggregate -> store: build one dataset version.

Memory-bounded: canonical person files (docs/CONTRACT.md §1, one per province) are processed
one at a time; each province's scored persons are streamed to the new version's directory and
only small partial count tables stay in memory (:class:`service.analysis.aggregate.Aggregator`).
The version becomes visible atomically (:meth:`service.store.store.Store.write_version`).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import polars as pl

from service.analysis.aggregate import Aggregator, admin_names
from service.errors import InvalidInput
from service.settings import SettingsLike, as_settings
from service.store.catalog import Version
from service.store.store import SourceAlreadyStored, Store, open_store
from service.vocabulary import H3_LEVELS

log = logging.getLogger(__name__)

PIPELINE_VERSION = 1


def person_files(persons_dir: str | Path) -> list[Path]:
    """``<dir>/persons/*.parquet`` (or ``<dir>/*.parquet``), sorted by province code."""
    root = Path(persons_dir)
    sub = root / "persons"
    files = sorted((sub if sub.is_dir() else root).glob("*.parquet"))
    if not files:
        raise InvalidInput(f"no person Parquet files in {root} (expected persons/<province>"
                           ".parquet) / ไม่พบไฟล์ข้อมูลรายบุคคล", file=str(root))
    return files


def sha256_of_files(files: Iterable[Path], extra: str = "") -> str:
    """SHA-256 over the files' names and bytes (streamed), plus ``extra``."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    digest.update(extra.encode())
    return digest.hexdigest()


@dataclass
class StageTimes:
    """Seconds spent per stage, summed over provinces."""

    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, started: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - started
        return now


_POINT_KEYS = ("lon", "lat", "village_id", "tambon_code")


def _runs(frame: pl.DataFrame) -> np.ndarray:
    """Row -> run index, a run being consecutive rows with the same lon, lat, village_id and
    tambon_code (the members of a household, as files list them). Locating once per run gives
    exactly the per-row answer at a third of the cost."""
    changed = pl.lit(False)
    for col in _POINT_KEYS:
        changed = changed | pl.col(col).ne_missing(pl.col(col).shift(1))
    starts = frame.select(changed.fill_null(True).alias("s"))["s"].to_numpy().copy()
    if len(starts):
        starts[0] = True
    return np.cumsum(starts) - 1


def with_series(frame: pl.DataFrame, series: list[pl.Series]) -> pl.DataFrame:
    """``frame.with_columns(series)`` for Series of the frame's height, built from the
    columns themselves: an eager with_columns over a wide frame costs ~0.05 CPU-s per million
    rows here, this nothing. A Series named as an existing column replaces it in place."""
    new = {s.name: s for s in series}
    if len(new) != len(series):
        raise ValueError("two new columns share a name")
    for s in series:
        if len(s) != frame.height:
            raise ValueError(f"column {s.name} has {len(s):,} rows, the frame {frame.height:,}")
    cols = [new.pop(c) if c in new else frame.get_column(c) for c in frame.columns]
    return pl.DataFrame([*cols, *new.values()])


def locate_frame(frame: pl.DataFrame, locator: Any) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Add ``tambon_located``, ``locate_source`` (service.geo.locate.assign_tambon) and
    ``h3_r6`` .. ``h3_r9`` (uint64; null unless the tambon came from the point).

    Everything is computed once per run of rows sharing a point (a household) and then
    spread to the rows: the point keys alone are gathered for the run heads (not the whole
    frame), the H3 cells and the report's counts come from the heads weighted by run length.
    """
    from service.geo import hexgrid
    from service.geo.locate import assign_tambon

    run = _runs(frame)
    first = np.flatnonzero(np.diff(run, prepend=-1))
    heads = frame.select(_POINT_KEYS)[first]
    lon_h = heads["lon"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    lat_h = heads["lat"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    # rows whose point lies in a tambon first: assign_tambon builds a String Series from an
    # object array, which polars 1.x refuses when it starts with None (reported to its owner)
    inside = locator.locate(lon_h, lat_h) >= 0
    order = np.argsort(~inside, kind="stable")
    back = pl.Series(np.argsort(order, kind="stable"), dtype=pl.UInt32)
    sorted_heads = heads[order]
    tambon, source = assign_tambon(sorted_heads["lon"], sorted_heads["lat"],
                                   sorted_heads["village_id"], sorted_heads["tambon_code"],
                                   locator)
    tambon, source = tambon.gather(back), source.gather(back)
    by_point = (source == "point").to_numpy()
    cells = hexgrid.cell_columns(np.where(by_point, lon_h, np.nan),
                                 np.where(by_point, lat_h, np.nan))
    take = pl.Series(run, dtype=pl.UInt32)
    out = with_series(frame,
        [tambon.gather(take).alias("tambon_located"), source.gather(take).alias("locate_source")]
        + [pl.Series(name, values, dtype=pl.UInt64).replace(0, None).gather(take)
           for name, values in cells.items()])
    # the report over the heads, each counted for the rows of its run (the point keys are
    # constant within a run)
    rows = pl.Series("rows", np.diff(np.append(first, len(run))), dtype=pl.Int64)
    per_head = heads.with_columns(rows, tambon.alias("tambon_located"),
                                  source.alias("locate_source"))
    report = per_head.select(
        pl.col("rows").sum().alias("n_rows"),
        pl.col("rows").filter(pl.col("lon").is_null() | pl.col("lat").is_null()).sum()
        .alias("coords_missing"),
        pl.col("rows").filter(pl.col("lon").is_not_null() & pl.col("lat").is_not_null()
                              & (pl.col("locate_source") != "point")).sum()
        .alias("coords_outside"),
        pl.col("rows").filter((pl.col("locate_source") == "point")
                              & pl.col("tambon_code").is_not_null()
                              & (pl.col("tambon_located") != pl.col("tambon_code"))).sum()
        .alias("point_disagrees_with_record"),
    ).row(0, named=True)
    report["n_rows"] = len(run)
    by_source = per_head.group_by("locate_source").agg(pl.col("rows").sum())
    report["by_source"] = {str(k): int(v) for k, v in by_source.sort("locate_source").iter_rows()}
    report["n_located_points"] = len(first)
    return out, {k: (int(v) if not isinstance(v, dict) else v) for k, v in report.items()}


@dataclass
class ProvinceResult:
    """What one province's stages hand to the merge: partial sums, panel partials, the
    locate report and seconds per stage (its scored persons are already written)."""

    province: str
    aggregator: Aggregator
    panel: Any  # service.analysis.panel.PanelAggregator | None
    report: dict[str, Any]
    seconds: dict[str, float]


class ProvinceExecutor(Protocol):
    """Runs :func:`process_province` for many files (service.distributed.DaskProvinces)."""

    locator_cache_dir: Path | None

    def provinces(self, files: list[Path], outputs: list[Path], *, spec_obj: Any, prog: Any,
                  previous: Version | None) -> Iterator[ProvinceResult]: ...


def process_province(path: Path, out: Path, *, spec_obj: Any, prog: Any, locator: Any,
                     previous: Version | None) -> ProvinceResult:
    """The per-province stages: read, locate + H3, score, panel partials, write the scored
    persons to ``out``, partial sums. Runs in this process or as a dask task."""
    from service.analysis.mpi import score_persons
    from service.analysis.panel import PanelAggregator, chronic_column, needed_columns

    times = StageTimes()
    t = time.perf_counter()
    frame = pl.read_parquet(path)
    t = times.add("read", t)
    frame, report = locate_frame(frame, locator)
    t = times.add("locate_h3", t)
    scored = score_persons(frame, spec_obj, prog, file=path.name)
    del frame
    t = times.add("score", t)
    before = _previous_persons(previous, path.stem, scored.columns)
    if "hh_mpi_poor" in scored.columns:
        scored = with_series(scored, [chronic_column(scored, before)])
    panel = None
    if previous is not None:
        panel = PanelAggregator()
        panel.add(scored.select(needed_columns(scored.columns)), before)
    del before
    t = times.add("panel", t)
    # explicit row groups: the file's layout (bytes) depends on the rows only, not on how
    # many threads built the frame (a dask worker has fewer)
    scored.write_parquet(out, compression="zstd", row_group_size=100_000)
    t = times.add("write_persons", t)
    agg = Aggregator()
    agg.add(scored)
    del scored
    times.add("aggregate", t)
    return ProvinceResult(path.stem, agg, panel, report, times.seconds)


@functools.cache
def _process_locator(boundaries_dir: str, cache_dir: str) -> Any:
    # once per worker process: the locator grid is read from the cache (memory-mapped)
    from service.geo.boundaries import load_level
    from service.geo.locate import TambonLocator

    return TambonLocator(load_level(boundaries_dir, "tambon"), cache_dir=cache_dir)


def _province_in_process(path: str, out: str, spec_obj: Any, prog: Any,
                         previous: Version | None, boundaries_dir: str,
                         cache_dir: str) -> ProvinceResult:
    return process_province(Path(path), Path(out), spec_obj=spec_obj, prog=prog,
                            locator=_process_locator(boundaries_dir, cache_dir),
                            previous=previous)


class ProcessProvinces:
    """The per-province stages in a pool of local processes (one per core by default), the
    partial sums handed back in file order: the same version, byte for byte, as the
    one-process build (the scored persons are written with fixed row groups)."""

    def __init__(self, boundaries_dir: str | Path, locator_cache_dir: str | Path,
                 workers: int | None = None) -> None:
        self.boundaries_dir = str(boundaries_dir)
        self.locator_cache_dir: Path | None = Path(locator_cache_dir)
        self.workers = int(workers or os.cpu_count() or 1)

    def provinces(self, files: list[Path], outputs: list[Path], *, spec_obj: Any, prog: Any,
                  previous: Version | None) -> Iterator[ProvinceResult]:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        # the biggest files first, so that the last tasks are small; handed back in order
        order = sorted(range(len(files)), key=lambda i: -files[i].stat().st_size)
        with ProcessPoolExecutor(max_workers=min(self.workers, len(files)),
                                 mp_context=get_context("spawn")) as pool:
            futures = {i: pool.submit(_province_in_process, str(files[i]), str(outputs[i]),
                                      spec_obj, prog, previous, self.boundaries_dir,
                                      str(self.locator_cache_dir)) for i in order}
            for i in range(len(files)):
                yield futures.pop(i).result()


def merge_partial(target: Any, part: Any) -> None:
    """Fold one province's partial accumulator (Aggregator, PanelAggregator) into ``target``
    exactly as if its batch had been added to ``target``: lists of partial frames are
    extended in order, counters summed, the column spec checked."""
    for f in fields(target):
        mine, theirs = getattr(target, f.name), getattr(part, f.name)
        if isinstance(mine, dict) and all(isinstance(v, list) for v in theirs.values()):
            for key, frames in theirs.items():
                mine.setdefault(key, []).extend(frames)
        elif isinstance(mine, int) and not isinstance(mine, bool):
            setattr(target, f.name, mine + theirs)
        elif f.name == "spec":
            if mine is None:
                setattr(target, f.name, theirs)
            elif theirs is not None and theirs != mine:
                raise ValueError(f"province batches carry different columns: {theirs} vs {mine}")
        elif f.name == "names" or (not theirs):
            continue  # configuration of the target, or nothing accumulated
        else:
            raise TypeError(f"cannot merge {type(target).__name__}.{f.name}")


#: degrees of raster rows read beyond the provinces built: more than the widest H3 r6 cell
#: (~0.1 degree), so every pixel of a cell over their households is summed
BAND_PAD_DEG = 0.25


def _raster_band(transform: Any, n_rows: int, tambons: Any,
                 provinces: list[str] | None) -> tuple[int, int]:
    """Rows ``[r0, r1)`` of a north-up raster holding the provinces' tambons (padded by
    :data:`BAND_PAD_DEG`); every row without ``provinces``."""
    if not provinces:
        return 0, n_rows
    mine = tambons[tambons["code"].str[:4].isin(provinces)]
    if mine.empty:
        return 0, n_rows
    _, miny, _, maxy = mine.total_bounds
    dy = abs(float(transform.e))
    r0 = int(np.floor((float(transform.f) - (maxy + BAND_PAD_DEG)) / dy))
    r1 = int(np.ceil((float(transform.f) - (miny - BAND_PAD_DEG)) / dy))
    return max(0, r0), min(n_rows, max(r1, 0))


def _raster_sums(raster_path: str, tambons, locator: Any, cache_dir: Path | None,
                 provinces: list[str] | None = None
                 ) -> tuple[pd.Series, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """(people per tambon, {resolution: (sorted uint64 cells, people per cell)}) of a
    population GeoTIFF. With ``provinces`` only the raster rows over them are summed
    (:func:`_raster_band`: the cost follows the provinces built) and only their tambons are
    returned; every sum of such a tambon or cell is the one over the whole raster. Cached in
    ``cache_dir`` by the raster's name, size and time, the tambon codes and the band, so the
    rounds of a dataset (same raster, same boundaries) compute them once."""
    import rasterio
    from affine import Affine

    from service.geo import zonal

    stat = Path(raster_path).stat()
    with rasterio.open(raster_path) as src:
        transform, nodata, shape = src.transform, src.nodata, (src.height, src.width)
    r0, r1 = _raster_band(transform, shape[0], tambons, provinces)
    whole = (r0, r1) == (0, shape[0])
    key = hashlib.sha256(f"{Path(raster_path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}|"
                         f"{'|'.join(map(str, tambons['code']))}"
                         f"{'' if whole else f'|rows {r0}-{r1}'}".encode()).hexdigest()[:24]
    cached = cache_dir / f"raster-sums-{key}.v2.npz" if cache_dir is not None else None
    resolutions = [int(level[-1]) for level in H3_LEVELS]
    codes = tambons["code"].to_numpy().astype(str)
    keep = (np.ones(len(codes), dtype=bool) if whole
            else np.isin(np.char.ljust(codes, 4).astype("U4"), provinces or []))
    if cached is not None and cached.exists():
        with np.load(cached, allow_pickle=False) as z:
            return (pd.Series(z["pop"], index=z["codes"].astype(str)),
                    {r: (z[f"cells{r}"], z[f"sums{r}"]) for r in resolutions})
    with rasterio.open(raster_path) as src:
        values = src.read(1, masked=False)
    # the zones are all tambons whatever the band (a border pixel's share of a tambon is
    # taken among every tambon it touches); rows outside the band are left out
    band_transform = transform @ Affine.translation(0, r0)
    zr = zonal.ZoneRaster(tambons.geometry.values, band_transform, (r1 - r0, shape[1]),
                          locator=locator)
    # whole_pixels: a coastal/border pixel's people stay in the tambons it touches, so the
    # country total of the raster is kept (the zones are all tambons)
    pop = pd.Series(zr.sums(values[r0:r1], nodata=nodata, whole_pixels=True)[keep],
                    index=codes[keep])
    if not whole:  # the same row blocks as over the whole raster, those outside empty
        band = np.zeros_like(values)
        band[r0:r1] = values[r0:r1]
        values = band
    cells, sums = zonal.h3_sums(values, transform, 9, nodata=nodata)
    by_res = {res: (cells, sums) if res == 9 else zonal.rollup(cells, sums, res)
              for res in resolutions}
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp.npz")
        arrays = {"pop": pop.to_numpy(), "codes": pop.index.to_numpy().astype(str)}
        for res, (c, v) in by_res.items():
            arrays[f"sums{res}"], arrays[f"cells{res}"] = v, c
        np.savez(tmp, **arrays)
        tmp.replace(cached)
    return pop, by_res


def _cell_values(codes: pd.Series, cells: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """The sum of each H3 code (hex string) from sorted ``cells``; NaN where it has none."""
    import polars_h3 as plh3

    ints = (pl.Series("c", codes.to_numpy(), dtype=pl.String).to_frame()
            .select(plh3.str_to_int(pl.col("c")).fill_null(0))["c"].to_numpy()
            .astype(np.uint64))
    out = np.full(len(ints), np.nan)
    if not len(cells):
        return out
    at = np.minimum(np.searchsorted(cells, ints), len(cells) - 1)
    found = cells[at] == ints
    out[found] = sums[at[found]]
    return out


def _raster_columns(tables: dict[str, pd.DataFrame], raster_path: str, tambons,
                    locator: Any, cache_dir: Path | None = None,
                    provinces: list[str] | None = None) -> None:
    """Add pop_raster and survey_gap (tambon and above, H3 levels) from a population GeoTIFF.
    ``provinces``: the raster is summed over them only (the country row = their people)."""
    from service.geo import zonal

    pop, by_res = _raster_sums(raster_path, tambons, locator, cache_dir, provinces)
    for level, width in (("tambon", 8), ("amphoe", 6), ("province", 4), ("country", 0)):
        if level not in tables:
            continue
        frame = tables[level]
        rolled = pop.groupby(pop.index.str[:width] if width else np.zeros(len(pop))).sum()
        key = frame["code"].str[:width] if width else pd.Series(0, index=frame.index)
        frame["pop_raster"] = key.map(rolled).to_numpy(dtype=np.float64)
    for level in H3_LEVELS:
        if level not in tables:
            continue
        tables[level]["pop_raster"] = _cell_values(tables[level]["code"],
                                                   *by_res[int(level[-1])])
    for frame in tables.values():
        if "pop_raster" in frame:
            frame["survey_gap"] = zonal.survey_gap(frame["n_persons"].to_numpy(),
                                                   frame["pop_raster"].to_numpy()).gap


def build_version(settings: SettingsLike, *, dataset: str, round: int,
                  persons_dir: str | Path, source_sha256: str | None = None,
                  progress: bool = True, spec: str = "tpmap",
                  programmes: str | Path | None = None,
                  population_raster: str | Path | None = None,
                  store: Store | None = None, locator: Any = None,
                  on_stage: Callable[[str, float], None] | None = None,
                  extra_meta: dict[str, Any] | None = None,
                  executor: ProvinceExecutor | None = None,
                  files: list[Path] | None = None) -> Version:
    """Locate, score, aggregate and store one dataset version atomically.

    Returns the existing version when one of this dataset already has ``source_sha256``
    (idempotent re-import); ``source_sha256`` defaults to a hash of the person files.
    ``population_raster`` (default: setting ``population_raster``) adds ``pop_raster`` and
    ``survey_gap`` to the area tables. ``locator`` reuses a built
    :class:`service.geo.locate.TambonLocator` (else one is loaded from the data_dir cache).
    ``executor`` runs the per-province stages elsewhere (:class:`service.distributed.
    DaskProvinces`: a dask cluster); the merge, disclosure and publish stay here, and the
    version is the same, byte for byte, as the one built in this process. ``files`` (with
    ``source_sha256`` and an ``executor`` that waits for each) are the person files when
    they are still being written (the demo builds round 2561 while generating it).
    """

    settings = as_settings(settings)
    from service.analysis.coverage import load_programmes
    from service.analysis.spec import load_spec
    from service.geo.boundaries import hierarchy, load_level
    from service.geo.locate import TambonLocator

    store = store or open_store(settings)
    files = person_files(persons_dir) if files is None else files
    sha = source_sha256 or sha256_of_files(files, extra=f"{spec}|{programmes}")
    existing = store.catalog.find_by_sha256(dataset, sha)
    if existing is not None:
        log.info("dataset %s: source %s… already stored as version %s; nothing to do",
                 dataset, sha[:12], existing.id)
        return existing
    times = StageTimes()
    t = time.perf_counter()
    spec_obj = load_spec(spec)
    prog = load_programmes(programmes)
    bdir = settings.boundaries_dir
    tambons = load_level(bdir, "tambon")
    if locator is None:
        cache = executor.locator_cache_dir if executor is not None else None
        locator = TambonLocator(tambons, cache_dir=cache or Path(settings.data_dir) / "cache")
    agg = Aggregator(names=admin_names(hierarchy(bdir)))
    t = times.add("prepare", t)
    raster = population_raster or as_settings(settings).population_raster or None

    try:
        return _build(store, settings, dataset=dataset, round=round, files=files, sha=sha,
                      progress=progress, spec=spec, programmes=programmes, raster=raster,
                      spec_obj=spec_obj, prog=prog, tambons=tambons, locator=locator, agg=agg,
                      times=times, on_stage=on_stage, extra_meta=extra_meta or {},
                      executor=executor)
    except SourceAlreadyStored as exc:
        log.info("dataset %s: source stored meanwhile as version %s", dataset, exc.version.id)
        return exc.version


def _build(store: Store, settings: SettingsLike, *, dataset: str, round: int,
           files: list[Path], sha: str, progress: bool, spec: str, programmes: Any,
           raster: Any, spec_obj: Any, prog: Any, tambons: Any, locator: Any,
           agg: Aggregator, times: StageTimes,
           on_stage: Callable[[str, float], None] | None,
           extra_meta: dict[str, Any],
           executor: ProvinceExecutor | None = None) -> Version:
    settings = as_settings(settings)
    from tqdm import tqdm

    from service.analysis.disclosure import protect_levels
    from service.analysis.panel import PanelAggregator, attach

    locate_reports: dict[str, Any] = {}
    min_hh = int(settings.min_cell_households)
    previous = previous_round_version(store, dataset, round)
    panel = PanelAggregator() if previous is not None else None
    seen: set[str] = set()
    with store.write_version(dataset, round=round, source_sha256=sha) as writer:
        outputs = [writer.persons_path(path.stem) for path in files]
        if executor is None:  # one province at a time in this process
            results: Iterable[ProvinceResult] = (
                process_province(path, out, spec_obj=spec_obj, prog=prog, locator=locator,
                                 previous=previous)
                for path, out in zip(files, outputs, strict=True))
        else:  # tasks on a dask cluster (service.distributed), handed back in file order
            results = executor.provinces(files, outputs, spec_obj=spec_obj, prog=prog,
                                         previous=previous)
        bar = tqdm(results, total=len(files), desc="provinces / จังหวัด", unit="prov",
                   disable=not progress)
        for result in bar:
            bar.set_postfix_str(result.province)
            # partial sums merged in file order: the same tables whoever computed them
            merge_partial(agg, result.aggregator)
            if panel is not None and result.panel is not None:
                merge_partial(panel, result.panel)
                seen.add(result.province)
            locate_reports[result.province] = result.report
            for stage, seconds in result.seconds.items():
                times.seconds[stage] = times.seconds.get(stage, 0.0) + seconds
            del result
        t = time.perf_counter()
        if panel is not None and previous is not None:
            for old in sorted(Path(previous.path, "persons").glob("*.parquet")):
                if old.stem not in seen:  # a province only in the previous round
                    panel.add(None, _previous_persons(previous, old.stem, None))
            pnl = panel.finish()
            t = times.add("panel", t)
        tables = agg.finish()
        if panel is not None:
            tables = {level: attach(frame, pnl.get(level)) for level, frame in tables.items()}
        cell_tambons = {level: frame.to_pandas() for level, frame in agg.cell_tambons.items()}
        # raster sums and protection need only a few columns: keep the wide tables in polars
        narrow = {level: frame.select("code", "parent_code", "n_households", "n_persons",
                                      *(["n_hh_present"] if "n_hh_present" in frame.columns
                                        else []))
                  .to_pandas() for level, frame in tables.items()}
        t = times.add("aggregate", t)
        if raster:
            # the raster rows over the provinces of the tambons built (all: the whole raster)
            built = sorted({str(c)[:4] for c in narrow["tambon"]["code"]}
                           if "tambon" in narrow else set())
            all_provinces = set(tambons["code"].str[:4])
            _raster_columns(narrow, str(raster), tambons, locator,
                            cache_dir=Path(settings.data_dir) / "cache",
                            provinces=None if not built or set(built) >= all_provinces
                            else built)
            t = times.add("raster", t)
        geoms = dict(zip(tambons["code"], tambons.geometry.values, strict=True))
        flags = protect_levels(narrow, min_households=min_hh, cell_tambons=cell_tambons,
                               tambon_geometries=geoms)
        t = times.add("disclosure", t)
        levels: dict[str, int] = {}
        suppressed: dict[str, int] = {}
        for level in list(tables):
            # the raster columns (rows in the table's order) and the flags, joined in polars
            values = narrow.pop(level)
            extra = tables[level].select("code")
            with_raster = [c for c in values.columns if c in ("pop_raster", "survey_gap")]
            if with_raster:
                extra = extra.hstack(pl.from_pandas(values[with_raster]))
            del values
            extra = (extra.join(pl.from_pandas(flags.pop(level)), on="code", how="left",
                                maintain_order="left")
                     .with_columns(pl.col("dc_suppressed").fill_null(True)))
            order = "cell" if "cell" in tables[level].columns else "code"
            # extra's rows are the table's, in its order
            frame = (tables[level].hstack(extra.drop("code").get_columns())
                     .sort("province_code", order, nulls_last=False))
            frame.write_parquet(writer.areas_path(level), row_group_size=50_000,
                                compression="zstd")
            levels[level] = frame.height
            suppressed[level] = int(frame["dc_suppressed"].sum())
            if level != "country":
                del tables[level]
            del frame
        for level, parts in agg.partials.items():
            # each province's part of the border cells: its provincial detail (SEC)
            parts.write_parquet(writer.partials_path(level), row_group_size=50_000,
                                compression="zstd")
        agg.partials.clear()
        audit_dir = writer.dir / "audit"
        audit_dir.mkdir(exist_ok=True)
        for level, ct in cell_tambons.items():
            ct.to_parquet(audit_dir / f"cell_tambons_{level}.parquet", index=False)
        times.add("write_areas", t)
        country = tables["country"].row(0, named=True)
        meta = {
            "pipeline_version": PIPELINE_VERSION, "spec": spec,
            "programmes": str(programmes) if programmes else "default",
            "levels": levels, "dc_suppressed": suppressed, "min_cell_households": min_hh,
            "population_raster": Path(raster).name if raster else None,
            "locate": _sum_reports(locate_reports),
            "n_without_tambon": agg.n_without_tambon, "n_without_cell": agg.n_without_cell,
            "stage_seconds": {k: float(f"{v:.3f}") for k, v in times.seconds.items()},
            "provinces": [p.stem for p in files],
            **extra_meta,
        }
        if previous is not None:
            meta["panel"] = {"previous_version": previous.id, "previous_round": previous.round}
        version = writer.publish(n_persons=int(country["n_persons"]),
                                 n_households=int(country["n_households"]), meta=meta)
    if on_stage is not None:
        for stage, seconds in times.seconds.items():
            on_stage(stage, seconds)
    log.info("dataset %s version %s: %s persons, %s households; stages %s", dataset,
             version.id, f"{version.n_persons:,}", f"{version.n_households:,}",
             ", ".join(f"{k} {v:.1f}s" for k, v in times.seconds.items()))
    return version


def previous_round_version(store: Store, dataset: str, round: int) -> Version | None:
    """The ready version of ``dataset`` with the latest round before ``round`` (the newest
    such build), whose persons the panel measures compare with; None when there is none."""
    # the released version of each earlier round (a superseded build is never compared)
    earlier = [v for v in store.versions(dataset) if v.round < round]
    if not earlier:
        return None
    return max(earlier, key=lambda v: (v.round, v.created_at, v.id))


def _previous_persons(previous: Version | None, province: str,
                      columns: list[str] | None) -> pl.DataFrame | None:
    """The previous round's scored persons of one province (panel columns only)."""
    from service.analysis.panel import needed_columns

    if previous is None:
        return None
    path = Path(previous.path) / "persons" / f"{province}.parquet"
    if not path.exists():
        return None
    import pyarrow.parquet as pq

    have = pq.read_schema(path).names
    return pl.read_parquet(path, columns=needed_columns(have))


def _sum_reports(reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {"n_rows": 0, "by_source": {}, "coords_missing": 0,
                             "coords_outside": 0, "point_disagrees_with_record": 0,
                             "n_located_points": 0}
    for rep in reports.values():
        for key in ("n_rows", "coords_missing", "coords_outside", "point_disagrees_with_record",
                    "n_located_points"):
            total[key] += int(rep.get(key, 0))
        for source, n in rep.get("by_source", {}).items():
            total["by_source"][source] = total["by_source"].get(source, 0) + int(n)
    return total
