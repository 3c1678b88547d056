"""`chipao demo`: the main job. Builds the calibrated demo dataset into the embedded store and
serves the maps (http://127.0.0.1:8000 by default)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import click

from service.settings import settings_from_env

log = logging.getLogger(__name__)


def _manifest_sha256(manifest: Path) -> str:
    return hashlib.sha256(manifest.read_bytes()).hexdigest()


@click.command("demo")
@click.option("--provinces", default="all", show_default=True,
              help="'all' or comma-separated province codes (TH75,TH50).")
@click.option("--seed", default=2561, show_default=True, type=int)
@click.option("--dataset", default=None, help="Dataset name (default: setting default_dataset).")
@click.option("--round", "round_", default=2561, show_default=True, type=int,
              help="Survey round (Buddhist year).")
@click.option("--serve/--no-serve", default=True, show_default=True,
              help="Start the web server when the dataset is ready.")
def command(provinces: str, seed: int, dataset: str | None, round_: int, serve: bool) -> None:
    """Generate demo data, build a dataset version and serve the maps.

    Idempotent: a second run with the same seed and provinces reuses the generated files and
    the stored version (same SHA-256), so it starts serving at once.
    """
    from service.demo.generate import generate
    from service.pipeline import build_version

    settings = settings_from_env()
    dataset = dataset or settings["default_dataset"]
    data_dir = Path(settings["data_dir"])
    codes = None if provinces == "all" else [c.strip() for c in provinces.split(",") if c.strip()]
    src = data_dir / "demo-source" / f"seed{seed}-{'all' if codes is None else '-'.join(codes)}"
    manifest = src / "manifest.json"
    t0 = time.perf_counter()
    if manifest.exists():
        click.echo(f"demo data already generated: {src}")
    else:
        click.echo(f"generating demo data ({provinces}) into {src} …")
        generate(provinces=codes, seed=seed, out=src)
    counts = json.loads(manifest.read_text(encoding="utf-8"))
    click.echo(
        f"  {counts.get('n_households', 0):,} households, {counts.get('n_persons', 0):,} people "
        f"({time.perf_counter() - t0:,.1f} s)"
    )
    t1 = time.perf_counter()
    raster = settings.get("population_raster") or None
    if raster is None:
        # The demo's stand-in for a WorldPop grid: survey-gap flags need a population raster.
        from service.demo.raster import ensure_population_raster

        raster = ensure_population_raster(data_dir, settings["boundaries_dir"], seed=seed)
        click.echo(f"population raster: {raster}")
    version = build_version(
        settings, dataset=dataset, round=round_, persons_dir=src,
        source_sha256=_manifest_sha256(manifest), progress=True,
        population_raster=raster,
    )
    click.echo(f"dataset {dataset!r} version {version.id} ready ({time.perf_counter() - t1:,.1f} s)")
    if serve:
        from service.commands.serve import run_server

        url = f"http://{settings['host']}:{settings['port']}"
        click.echo(f"serving maps at {url}/  (แผนที่ชี้เป้า) — Ctrl+C to stop")
        run_server(settings)
