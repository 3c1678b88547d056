"""`chipao bench tpmap`: import of TPMAP's published tables at national size.

TPMAP publishes the same 96 files (3 levels x 32) for every one of the 76 surveyed provinces;
only three are in the repository's test data. The other provinces are synthesised in the same
format by re-labelling the real ones: each target province gets, tambon by tambon in code
order, a template province's real tambons (cycled) with their villages, their 32 files' rows
re-coded to the target tambon; amphoe rows are the sums of their tambons; every rule the
importer checks holds (villages sum to tambons, tambons to amphoes, dimension masks
consistent). About 84,000 villages x 32 files per level. Generated once into
``<data_dir>/bench/tpmap-national/`` and reused.

Each import runs in its own Python process so its peak RSS (``ru_maxrss``) is its own:

- ``chipao``: :func:`service.ingest.tpmap.import_tpmap` (discover, SHA-256, validate every rule,
  map codes, protect the public view, write the version);
- ``naive``: the notebook way of reading and checking the same files: ``pandas.read_csv`` per
  file, ``to_numeric`` per column, the 31 mask files merged one by one on the area code, sums
  checked with ``groupby`` (no disclosure control, nothing written); run on the three real
  provinces only and compared with ``chipao`` on the same three.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import polars as pl

log = logging.getLogger(__name__)

TEMPLATES = ("58", "50", "34")
GENERATOR_VERSION = 1

_CHILD = r"""
import json, resource, sys, time
mode, src, data_dir = sys.argv[1], sys.argv[2], sys.argv[3]
t = time.perf_counter()
if mode == "chipao":
    from service.ingest.tpmap import import_tpmap
    from service.settings import load_settings
    report = import_tpmap(load_settings({"data_dir": data_dir}), src, dataset="tpmap",
                          round=2561)
    assert report.status == "created", report.summary()
    out = {"areas": report.areas, "problems": report.n_problems}
else:
    import glob, os
    import pandas as pd
    key = {"amphur": "amphur_ID", "tambol": "tumbol_ID", "village": "village_ID"}
    frames = {}
    for level in key:
        for prov in sorted({os.path.basename(p)[3:5] for p in glob.glob(src + "/61_*.csv")}):
            common = pd.read_csv(f"{src}/61_{prov}_{level}_common.csv", dtype=str)
            for c in common.columns[1:-1]:
                common[c] = pd.to_numeric(common[c], errors="coerce")
            wide = common
            for m in range(1, 32):
                mask = format(m, "05b")
                f = pd.read_csv(f"{src}/61_{prov}_{level}_{mask}.csv", dtype=str)
                for c in f.columns[1:-1]:
                    f[c] = pd.to_numeric(f[c], errors="coerce")
                bad = (f.iloc[:, 1:-1] < 0).any().any() or f.iloc[:, 1:-1].isna().any().any()
                wide = wide.merge(f.drop(columns=["province_ID"]).add_suffix("_" + mask)
                                  .rename(columns={key[level] + "_" + mask: key[level]}),
                                  on=key[level], how="left")
            frames.setdefault(level, []).append(wide)
    tam = pd.concat(frames["tambol"])
    vil = pd.concat(frames["village"])
    vil["_t"] = vil["village_ID"].str[:6]
    sums = vil.drop(columns=["village_ID"]).groupby("_t").sum(numeric_only=True)
    mismatch = int((sums.reindex(tam["tumbol_ID"]).to_numpy()
                    != tam.set_index("tumbol_ID")[sums.columns].to_numpy()).sum())
    out = {"areas": {k: int(sum(len(f) for f in v)) for k, v in frames.items()},
           "mismatch_cells": mismatch}
out["seconds"] = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_SELF)
out["cpu_seconds"] = usage.ru_utime + usage.ru_stime
out["peak_rss_mb"] = usage.ru_maxrss / 1024
out["load_average"] = __import__("os").getloadavg()[0]
print(json.dumps(out))
"""


def _read(src: Path, province: str, level: str, suffix: str) -> pl.DataFrame:
    return pl.read_csv(src / f"61_{province}_{level}_{suffix}.csv", infer_schema_length=0)


def synthesize(src: Path, out: Path, boundaries_dir: str, *,
               provinces: list[str] | None = None) -> dict[str, int]:
    """Write TPMAP-format files for every province (see the module docstring)."""
    from service.ingest.tpmap import SUFFIXES

    tambons = pl.read_parquet(Path(boundaries_dir) / "tambons.parquet",
                              columns=["code", "province_code"])
    all_provinces = sorted(set(tambons["province_code"].str.slice(2, 2)) - {"10"})
    wanted = provinces or all_provinces
    out.mkdir(parents=True, exist_ok=True)
    n_villages = 0
    templates: dict[tuple[str, str, str], pl.DataFrame] = {
        (t, level, sfx): _read(src, t, level, sfx)
        for t in TEMPLATES for level in ("tambol", "village", "amphur") for sfx in SUFFIXES}
    for i, prov in enumerate(wanted):
        if prov in TEMPLATES:
            for sfx in SUFFIXES:
                for level in ("amphur", "tambol", "village"):
                    shutil.copy(src / f"61_{prov}_{level}_{sfx}.csv",
                                out / f"61_{prov}_{level}_{sfx}.csv")
            n_villages += templates[(prov, "village", "common")].height
            continue
        t = TEMPLATES[i % len(TEMPLATES)]
        source_tambons = [c for c in templates[(t, "tambol", "common")]["tumbol_ID"]
                          if int(c[4:]) < 51]
        targets = sorted(c[2:] for c in tambons.filter(
            pl.col("province_code") == f"TH{prov}")["code"])
        mapping = pl.DataFrame({"_src": [source_tambons[j % len(source_tambons)]
                                         for j in range(len(targets))],
                                "_dst": targets})
        for sfx in SUFFIXES:
            tam = templates[(t, "tambol", sfx)].join(mapping, left_on="tumbol_ID",
                                                     right_on="_src", how="inner")
            tam = tam.with_columns(pl.col("_dst").alias("tumbol_ID"),
                                   pl.lit(prov).alias("province_ID")).drop("_dst")
            vil = templates[(t, "village", sfx)].with_columns(
                pl.col("village_ID").str.slice(0, 6).alias("_src")).join(
                mapping, on="_src", how="inner")
            vil = vil.with_columns(
                (pl.col("_dst") + pl.col("village_ID").str.slice(6, 4)).alias("village_ID"),
                pl.lit(prov).alias("province_ID")).drop("_src", "_dst")
            if sfx == "common":
                n_villages += vil.height
            header = templates[(t, "tambol", sfx)].columns
            tam = tam.select(header)
            amp = _amphoe_rows(tam, sfx)
            for level, frame in (("tambol", tam), ("village", vil.select(
                    templates[(t, "village", sfx)].columns)), ("amphur", amp)):
                frame.write_csv(out / f"61_{prov}_{level}_{sfx}.csv", quote_style="non_numeric")
    return {"provinces": len(wanted), "villages": n_villages}


def _amphoe_rows(tam: pl.DataFrame, suffix: str) -> pl.DataFrame:
    """Amphoe rows = sums of their tambons (means and rates recomputed)."""
    counts = [c for c in tam.columns if c not in ("tumbol_ID", "province_ID", "happiness",
                                                  "JPT.MOFval.pov.rate")]
    typed = tam.with_columns([pl.col(c).cast(pl.Int64) for c in counts])
    aggs = [pl.col(c).sum() for c in counts]
    if suffix == "common":
        aggs.append(((pl.col("happiness").cast(pl.Float64) * pl.col("household.CNT")).sum()
                     / pl.col("household.CNT").sum()).alias("happiness"))
    amp = typed.group_by(pl.col("tumbol_ID").str.slice(0, 4).alias("amphur_ID")).agg(
        aggs).sort("amphur_ID")
    if suffix == "common":
        return amp.with_columns(pl.lit(tam["province_ID"][0]).alias("province_ID")).select(
            ["amphur_ID"] + [c for c in tam.columns if c != "tumbol_ID"])
    # the rate needs persons: the amphoe's persons are in its common file, so recompute it
    # from the tambons' rates x persons (= target poor) / persons: rate_a = 100 tp / persons
    return amp.with_columns(pl.lit(tam["province_ID"][0]).alias("province_ID"),
                            pl.lit(None, dtype=pl.Float64).alias("JPT.MOFval.pov.rate")
                            ).select(["amphur_ID"] + [c for c in tam.columns
                                                      if c != "tumbol_ID"])


def _fill_rates(out: Path) -> None:
    """Amphoe rates = 100 x target poor / persons (persons from the amphoe common file)."""
    from service.ingest.tpmap import MASKS

    for common in sorted(out.glob("61_*_amphur_common.csv")):
        prov = common.name[3:5]
        persons = pl.read_csv(common, infer_schema_length=0).select(
            "amphur_ID", pl.col("HOUSEMEMBER_CNT").cast(pl.Int64).alias("_p"))
        for m in MASKS:
            path = out / f"61_{prov}_amphur_{m}.csv"
            frame = pl.read_csv(path, infer_schema_length=0)
            if frame["JPT.MOFval.pov.rate"].null_count() == 0:
                break  # a real (copied) province
            frame = frame.join(persons, on="amphur_ID", how="left").with_columns(
                (100 * pl.col("poor.JPT.MOFval.CNT").cast(pl.Float64) / pl.col("_p"))
                .alias("JPT.MOFval.pov.rate")).drop("_p")
            frame.write_csv(path, quote_style="non_numeric")


def national_files(data_dir: Path, src: Path, boundaries_dir: str) -> tuple[Path, dict]:
    out = data_dir / "bench" / "tpmap-national"
    marker = out / "manifest.json"
    if marker.exists():
        manifest = json.loads(marker.read_text())
        if manifest.get("generator_version") == GENERATOR_VERSION:
            return out, manifest
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    info = synthesize(src, out, boundaries_dir)
    _fill_rates(out)
    manifest = {"generator_version": GENERATOR_VERSION, **info,
                "seconds": round(time.perf_counter() - t, 1)}
    marker.write_text(json.dumps(manifest))
    return out, manifest


def _run(mode: str, src: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="chipao-bench-tpmap-") as tmp:
        proc = subprocess.run([sys.executable, "-c", _CHILD, mode, str(src), str(Path(tmp) /
                                                                                 "var")],
                              capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise click.ClickException(f"{mode} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@click.command("tpmap")
@click.option("--source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="The real published files (default: the shared test data).")
@click.option("--skip-naive", is_flag=True, help="Only Chipao's import.")
def command(source: Path | None, skip_naive: bool) -> None:
    """National-size import of TPMAP's published tables (76 provinces x 96 files)."""
    from service.settings import settings_from_env

    settings = settings_from_env()
    src = source or Path(__file__).resolve().parents[3] / "shared" / "data" / \
        "tpmap2561-published"
    if not src.exists():
        src = Path("/work/shared/data/tpmap2561-published")
    national, manifest = national_files(Path(settings.data_dir), src,
                                        str(settings.boundaries_dir))
    click.echo(f"files: {manifest['provinces']} provinces, {manifest['villages']:,} village "
               f"rows x 32 files per level (generated in {manifest['seconds']} s)")
    big = _run("chipao", national)
    click.echo(f"chipao national: {big['seconds']:.1f} s wall, {big['cpu_seconds']:.1f} s CPU, "
               f"peak RSS {big['peak_rss_mb']:,.0f} MB, load average {big['load_average']:.1f} "
               f"(2 cores), areas {big['areas']}")
    small = _run("chipao", src)
    click.echo(f"chipao 3 provinces: {small['seconds']:.1f} s wall, {small['cpu_seconds']:.1f} s "
               f"CPU, peak RSS {small['peak_rss_mb']:,.0f} MB")
    if not skip_naive:
        naive = _run("naive", src)
        click.echo(f"naive 3 provinces (pandas read + merge + sum check only): "
                   f"{naive['seconds']:.1f} s wall, {naive['cpu_seconds']:.1f} s CPU, peak RSS "
                   f"{naive['peak_rss_mb']:,.0f} MB; "
                   f"ratio {naive['seconds'] / small['seconds']:.1f}x")
