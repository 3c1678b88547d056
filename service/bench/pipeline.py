"""`chipao bench --households N` (= `chipao bench pipeline --households N`): time each stage
of the spatial pipeline -- load (or generate) -> locate + H3 r6-r9 -> score -> aggregate to
every level -> disclosure -- processing province by province as ``build_version`` does (no
store writes), then measure the naive way on the same household points in the same run:
``geopandas.sjoin`` for the tambon and a per-point ``h3.latlng_to_cell`` loop for r6-r9.

The naive path runs on a random sample of the points when there are more than
``--naive-sample`` (then extrapolated linearly, and said so). Run national sizes one at a time:
``flock /tmp/chipao-heavy.lock chipao bench --households 12900000``.
"""

from __future__ import annotations

import gc
import logging
import resource
import time
from pathlib import Path

import click
import numpy as np
import polars as pl

log = logging.getLogger(__name__)

STAGES = ("load", "locate_h3", "score", "aggregate", "disclosure")


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def _batches(n_households: int | None, persons_dir: Path | None, seed: int,
             boundaries_dir: str):
    """Yield (province, persons frame) until ``n_households`` households (None = all)."""
    if persons_dir is not None:
        from service.pipeline import person_files

        sources = [(p.stem, lambda p=p: pl.read_parquet(p)) for p in person_files(persons_dir)]
    else:
        from service.demo.generate import generate_province, province_codes

        sources = [(c, lambda c=c: generate_province(c, seed=seed,
                                                     boundaries_dir=boundaries_dir))
                   for c in province_codes(boundaries_dir)]
    left = n_households
    for province, load in sources:
        if left is not None and left <= 0:
            return
        frame = load()
        n_hh = frame["hh_id"].n_unique()
        if left is not None and n_hh > left:
            keep = frame["hh_id"].unique(maintain_order=True).head(left)
            frame = frame.filter(pl.col("hh_id").is_in(keep.implode()))
            n_hh = left
        if left is not None:
            left -= n_hh
        yield province, frame


def naive_locate_h3(lon: np.ndarray, lat: np.ndarray, tambons) -> tuple[np.ndarray, dict]:
    """geopandas.sjoin point-in-polygon + a per-point h3 loop at r6-r9 (the naive way)."""
    import geopandas as gpd
    import h3

    t = time.perf_counter()
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    joined = gpd.sjoin(points, tambons[["code", "geometry"]], how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")]
    codes = joined["code"].to_numpy()
    t_sjoin = time.perf_counter() - t
    t = time.perf_counter()
    cells = {r: np.fromiter((h3.str_to_int(h3.latlng_to_cell(y, x, r))
                             for x, y in zip(lon, lat, strict=True)), dtype=np.uint64,
                            count=len(lon)) for r in (6, 7, 8, 9)}
    t_h3 = time.perf_counter() - t
    return codes, {"sjoin": t_sjoin, "h3_loop": t_h3, "cells": cells}


@click.command("pipeline")
@click.option("--households", "households", type=int, default=None,
              help="Households to process (default: all in --persons).")
@click.option("--persons", "persons_dir", type=click.Path(exists=True, file_okay=False,
                                                          path_type=Path), default=None,
              help="Canonical persons directory (e.g. /tmp/chipao-national). Default: "
                   "generate demo provinces until N households.")
@click.option("--naive-sample", type=int, default=1_000_000, show_default=True,
              help="Largest number of points the naive path runs on (then extrapolated).")
@click.option("--seed", type=int, default=2561, show_default=True)
def command(households: int | None, persons_dir: Path | None, naive_sample: int,
            seed: int) -> None:
    """Time each pipeline stage on N households and compare with sjoin + h3 loop."""
    from service.analysis.aggregate import Aggregator, admin_names
    from service.analysis.coverage import load_programmes
    from service.analysis.disclosure import protect_levels
    from service.analysis.mpi import score_persons
    from service.analysis.spec import load_spec
    from service.geo import hexgrid
    from service.geo.boundaries import hierarchy, load_level
    from service.geo.locate import TambonLocator
    from service.pipeline import locate_frame
    from service.settings import settings_from_env

    if households is None and persons_dir is None:
        raise click.UsageError("give --households N, --persons DIR, or both")
    settings = settings_from_env()
    bdir = settings.boundaries_dir
    tambons = load_level(bdir, "tambon")
    t = time.perf_counter()
    locator = TambonLocator(tambons, cache_dir=Path(settings.data_dir) / "cache")
    t_locator = time.perf_counter() - t
    spec, programmes = load_spec("tpmap"), load_programmes()
    agg = Aggregator(names=admin_names(hierarchy(bdir)))
    times = dict.fromkeys(STAGES, 0.0)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    ours_points = 0.0
    n_persons = n_hh = 0
    started = time.perf_counter()
    batches = _batches(households, persons_dir, seed, bdir)
    while True:
        t = time.perf_counter()
        item = next(batches, None)
        if item is None:
            break
        province, frame = item
        times["load"] += time.perf_counter() - t
        n_persons += frame.height
        # one point per household: the naive path and ours are timed on these
        first = frame.filter(pl.col("hh_id").is_first_distinct()).select("lon", "lat")
        xs.append(first["lon"].fill_null(np.nan).to_numpy())
        ys.append(first["lat"].fill_null(np.nan).to_numpy())
        n_hh += first.height
        t = time.perf_counter()
        frame, _ = locate_frame(frame, locator)
        times["locate_h3"] += time.perf_counter() - t
        t = time.perf_counter()
        scored = score_persons(frame, spec, programmes)
        del frame
        times["score"] += time.perf_counter() - t
        t = time.perf_counter()
        agg.add(scored)
        del scored
        times["aggregate"] += time.perf_counter() - t
        log.info("%s done: %s households so far", province, f"{n_hh:,}")
    gc.collect()
    t = time.perf_counter()
    wide = agg.finish()
    cell_tambons = {k: v.to_pandas() for k, v in agg.cell_tambons.items()}
    tables = {k: v.select("code", "parent_code", "n_households").to_pandas()
              for k, v in wide.items()}
    t_finish = time.perf_counter() - t
    times["aggregate"] += t_finish
    t = time.perf_counter()
    flags = protect_levels(tables, min_households=int(settings.min_cell_households),
                           cell_tambons=cell_tambons,
                           tambon_geometries=dict(zip(tambons["code"], tambons.geometry.values,
                                                      strict=True)))
    times["disclosure"] += time.perf_counter() - t
    total = time.perf_counter() - started
    rss = peak_rss_gib()

    lon, lat = np.concatenate(xs), np.concatenate(ys)
    del xs, ys
    t = time.perf_counter()
    ours_idx = locator.locate(lon, lat)
    ours_cells = hexgrid.cell_columns(lon, lat)
    ours_points = time.perf_counter() - t
    rng = np.random.default_rng(seed)
    sample = (np.arange(len(lon)) if len(lon) <= naive_sample
              else np.sort(rng.choice(len(lon), naive_sample, replace=False)))
    naive_codes, naive = naive_locate_h3(lon[sample], lat[sample], tambons)
    scale = len(lon) / len(sample)
    ours_codes = np.where(ours_idx[sample] >= 0, locator.codes[np.maximum(ours_idx[sample], 0)],
                          None)
    agree = np.mean([(a == b) or (a is None and not isinstance(b, str))
                     for a, b in zip(ours_codes, naive_codes, strict=True)])
    cells_agree = bool(np.array_equal(ours_cells["h3_r9"][sample], naive["cells"][9]))
    naive_total = (naive["sjoin"] + naive["h3_loop"]) * scale

    click.echo(f"pipeline on {n_hh:,} households / {n_persons:,} persons "
               f"({'files in ' + str(persons_dir) if persons_dir else 'generated demo data'})")
    click.echo(f"  tambon locator grid ready in {t_locator:,.2f} s (cached after first build)")
    for stage in STAGES:
        extra = (f"   (summing batches {times['aggregate'] - t_finish:,.2f} s, all levels "
                 f"{t_finish:,.2f} s; {len(wide['country'].columns)} columns per table)"
                 if stage == "aggregate" else "")
        click.echo(f"  {stage:<11} {times[stage]:>8,.2f} s{extra}")
    click.echo(f"  {'total':<11} {total:>8,.2f} s   peak RSS {rss:,.2f} GiB")
    click.echo("  areas: " + ", ".join(f"{k} {len(v):,}" for k, v in tables.items()))
    click.echo("  suppressed for the public: " + ", ".join(
        f"{k} {int(v['dc_suppressed'].sum()):,}" for k, v in flags.items()))
    note = (f" (naive measured on {len(sample):,} points, x{scale:,.1f} extrapolated)"
            if scale > 1 else "")
    click.echo(f"same {len(lon):,} household points, locate + H3 r6-r9{note}:")
    click.echo(f"  ours   rasterised locate + polars-h3 {ours_points:>9,.2f} s")
    click.echo(f"  naive  geopandas.sjoin {naive['sjoin'] * scale:>9,.2f} s + h3 loop "
               f"{naive['h3_loop'] * scale:>9,.2f} s = {naive_total:,.2f} s")
    click.echo(f"  ratio  {naive_total / max(ours_points, 1e-9):,.1f}x faster; tambon agreement "
               f"{agree:.4%}, r9 cells identical on the sample: {cells_agree}")
    work = total - times["load"]
    click.echo(f"  our whole pipeline after loading (locate .. disclosure, {work:,.2f} s) vs "
               f"naive locate + H3 alone: {naive_total / max(work, 1e-9):,.2f}x")
