"""`chipao bench panel`: a multi-round build of the demo panel exactly as `chipao demo` /
`make demo` runs it (round 2561 generated; the later rounds derived in a second process while
2561 is built; one version per round with the panel stage), timed round by round, with the
peak memory of the main process and of the deriving process; then the transition tables of
one province computed the naive way (pandas merges on string ids, one per level and unit)
and Chipao's way (service.analysis.panel), in the same run, with identical answers checked.

National: ``nice -n 10 chipao bench panel --data-dir /work/panel-var --rounds
2561,2562,2565`` (one national build at a time on a shared machine).
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import click
import pandas as pd
import polars as pl

from service.bench.pipeline import peak_rss_gib


def _children_gib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2


def naive_transitions(cur: pd.DataFrame, prev: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Matched / exited / entered / persistent households and persons per area of the nine
    levels, the obvious way: one pandas merge on the string ids per level and unit."""
    levels = {"country": None, "province": 4, "amphoe": 6, "tambon": 8, "village": "village_id",
              "h3_r6": "h3_r6", "h3_r7": "h3_r7", "h3_r8": "h3_r8", "h3_r9": "h3_r9"}
    out = {}
    for level, how in levels.items():
        def code(frame: pd.DataFrame, how=how) -> pd.Series:
            if how is None:
                return pd.Series("TH", index=frame.index)
            if isinstance(how, int):
                return frame["tambon_located"].str[:how]
            return frame[how]
        parts = {}
        for unit, key, poor in (("hh", "hh_id", "hh_mpi_poor"), ("p", "person_id", "mpi_poor")):
            c = cur.assign(code=code(cur)).dropna(subset=["code"])
            p = prev.assign(code=code(prev)).dropna(subset=["code"])
            if unit == "hh":
                c, p = c.drop_duplicates([key, "code"]), p.drop_duplicates([key, "code"])
            m = c[[key, "code", poor]].merge(p[[key, "code", poor]], on=[key, "code"],
                                             suffixes=("", "_prev"))
            a, b = m[f"{poor}_prev"], m[poor]
            m = m.assign(exited=a & ~b, entered=~a & b, persistent=a & b)
            parts[unit] = m.groupby("code").agg(
                **{f"{unit}_matched": (key, "size"), f"{unit}_exited": ("exited", "sum"),
                   f"{unit}_entered": ("entered", "sum"),
                   f"{unit}_persistent": ("persistent", "sum")})
        out[level] = parts["hh"].join(parts["p"], how="outer").fillna(0).sort_index()
    return out


@click.command("panel")
@click.option("--data-dir", required=True, type=click.Path(file_okay=False),
              help="Data directory of the build (not inside a worktree).")
@click.option("--rounds", default="2561,2562,2565", show_default=True)
@click.option("--provinces", default="all", show_default=True)
@click.option("--seed", default=2561, show_default=True, type=int)
@click.option("--naive-province", default="TH75", show_default=True,
              help="Province whose transition tables are also computed the naive way.")
@click.option("--workers", default=1, show_default=True, type=int,
              help="Processes for the per-province stages (0: one per core), as chipao demo.")
def command(data_dir: str, rounds: str, provinces: str, seed: int, naive_province: str,
            workers: int) -> None:
    """Time and peak memory of a multi-round demo build and of the transition tables."""
    from service.analysis.panel import PanelAggregator, needed_columns
    from service.demo.build import build_demo, source_dir
    from service.demo.panel import round_dir
    from service.settings import load_settings

    settings = load_settings({"data_dir": data_dir})
    codes = None if provinces == "all" else [c.strip() for c in provinces.split(",")]
    marks: list[tuple[float, str]] = []
    t0 = time.perf_counter()

    def echo(text: str) -> None:
        marks.append((time.perf_counter() - t0, text))
        click.echo(f"[{time.perf_counter() - t0:7.1f} s] {text}")

    import os

    versions = build_demo(settings, provinces=codes, seed=seed, map_artefacts=False,
                          dataset="demo", rounds=rounds, echo=echo,
                          workers=workers or os.cpu_count() or 1)
    total = time.perf_counter() - t0
    src = source_dir(data_dir, seed, codes)
    result: dict = {"total_seconds": round(total, 1), "peak_rss_gib_main": round(
        peak_rss_gib(), 2), "peak_rss_gib_deriving_process": round(_children_gib(), 2),
        "marks": [(round(t, 1), m) for t, m in marks], "rounds": []}
    for v in versions:
        manifest = json.loads((round_dir(src, v.round) / "manifest.json").read_text())
        result["rounds"].append({
            "round": v.round, "version": v.id, "n_persons": v.n_persons,
            "derive_seconds": manifest.get("seconds"), "fit": manifest.get("fit"),
            "stage_seconds": v.meta.get("stage_seconds"), "panel": v.meta.get("panel")})
    # transition tables of one province: naive pandas vs the panel stage, same data
    if len(versions) >= 2:
        cur_v, prev_v = versions[-1], versions[-2]
        cur = pl.read_parquet(Path(cur_v.path) / "persons" / f"{naive_province}.parquet")
        prev = pl.read_parquet(Path(prev_v.path) / "persons" / f"{naive_province}.parquet")
        cur, prev = cur.select(needed_columns(cur.columns)), prev.select(
            needed_columns(prev.columns))
        t1 = time.perf_counter()
        agg = PanelAggregator()
        agg.add(cur, prev)
        ours = agg.finish()
        t_ours = time.perf_counter() - t1
        cols = ["person_id", "hh_id", "tambon_located", "village_id", "h3_r6", "h3_r7",
                "h3_r8", "h3_r9", "mpi_poor", "hh_mpi_poor"]
        cp = pl.read_parquet(Path(cur_v.path) / "persons" / f"{naive_province}.parquet",
                             columns=cols).to_pandas()
        pp = pl.read_parquet(Path(prev_v.path) / "persons" / f"{naive_province}.parquet",
                             columns=cols).to_pandas()
        t2 = time.perf_counter()
        naive = naive_transitions(cp, pp)
        t_naive = time.perf_counter() - t2
        names = {"hh_matched": "pnl_hh_matched", "hh_exited": "pnl_hh_exited",
                 "hh_entered": "pnl_hh_entered", "hh_persistent": "pnl_hh_persistent",
                 "p_matched": "pnl_p_matched", "p_exited": "pnl_p_exited",
                 "p_entered": "pnl_p_entered", "p_persistent": "pnl_p_persistent"}
        same = True
        for lvl, table in naive.items():
            mine = ours[lvl].to_pandas()
            if lvl.startswith("h3_"):
                import polars_h3 as plh3

                cells = pl.DataFrame({"c": table.index.to_numpy().astype("uint64")})
                table.index = cells.select(plh3.int_to_str(pl.col("c")))["c"].to_list()
            mine = mine.set_index("code").reindex(table.index)
            same &= bool((mine[list(names.values())].to_numpy()
                          == table[list(names)].to_numpy()).all())
        result["transitions"] = {
            "province": naive_province, "persons": cur.height,
            "chipao_seconds": round(t_ours, 3), "naive_seconds": round(t_naive, 3),
            "ratio": round(t_naive / t_ours, 1) if t_ours else None,
            "identical_answers": same,
            "note": "both: 9 levels, households and persons; Chipao computes every pnl_* "
                    "column (groups, programmes, TPMAP, moves), the naive path 4 per unit"}
    click.echo(json.dumps(result, ensure_ascii=False, indent=1, default=str))
