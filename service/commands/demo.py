"""`chipao demo`: the main job. Builds the calibrated demo dataset into the embedded store and
serves the maps (http://127.0.0.1:8000 by default)."""

from __future__ import annotations

import logging
import os

import click

from service.settings import settings_from_env

log = logging.getLogger(__name__)


@click.command("demo")
@click.option("--provinces", default="all", show_default=True,
              help="'all' or comma-separated province codes (TH75,TH50).")
@click.option("--seed", default=2561, show_default=True, type=int)
@click.option("--dataset", default=None, help="Dataset name (default: setting default_dataset).")
@click.option("--rounds", default="2561,2562", show_default=True,
              help="Survey rounds (Buddhist years) of the demo panel: the same households "
                   "followed, one dataset version per round (รอบสำรวจ).")
@click.option("--workers", default=1, show_default=True, type=int,
              help="Processes for the per-province stages of the builds (0: one per core).")
@click.option("--serve/--no-serve", default=True, show_default=True,
              help="Start the web server when the dataset is ready.")
def command(provinces: str, seed: int, dataset: str | None, rounds: str, workers: int,
            serve: bool) -> None:
    """Generate demo data, build a dataset version per round and serve the maps.

    Idempotent: a second run with the same seed, provinces and rounds reuses the generated
    files and the stored versions (same SHA-256), so it starts serving at once. When serving,
    the current version's map artefacts are built by the server's start-up warm-up in the
    background (service.usecases.map_warmup); ``--no-serve`` builds them before returning.
    """
    from service.demo.build import build_demo

    settings = settings_from_env()
    codes = None if provinces == "all" else [c.strip() for c in provinces.split(",") if c.strip()]
    try:
        build_demo(settings, provinces=codes, seed=seed,
                   dataset=dataset or settings.default_dataset, rounds=rounds,
                   echo=click.echo, map_artefacts=not (serve and settings.map_warmup),
                   workers=workers or os.cpu_count() or 1)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if serve:
        from service.commands.serve import run_server

        click.echo(f"serving maps at http://{settings.host}:{settings.port}/  "
                   "(แผนที่ชี้เป้า) — Ctrl+C to stop; map artefacts are built in the "
                   "background / กำลังเตรียมแผนที่เบื้องหลัง")
        run_server(settings)
