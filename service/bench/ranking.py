"""`chipao bench ranking`: bootstrap and budget selection on one province of a stored dataset.

Measured in the same run:

* bootstrap of the village ranking: Chipao's (household weights for all replicates as one
  sparse matrix product, scored as arrays) against the obvious loop (per replicate: weight the
  person table, group by village with polars, call ``rank_areas``);
* budget selection: exact MILP against the greedy heuristic and the top of the ranking
  (people lifted for the same budget), and the solver time.
"""

from __future__ import annotations

import time

import click
import numpy as np
import polars as pl


def _naive_bootstrap(persons: pl.DataFrame, areas, config, previous, n_boot: int,
                     seed: int) -> np.ndarray:
    from service.analysis.rank import rank_areas
    from service.analysis.uncertainty import _person_count_exprs

    exprs = _person_count_exprs(persons.columns)
    needed = {c for comp in config.components for c in comp.columns} & set(exprs)
    rng = np.random.default_rng(seed)
    hh = persons["hh_id"].unique().sort()
    codes = sorted(areas["code"])
    ranks = np.empty((n_boot, len(codes)))
    fixed = areas.drop(columns=[c for c in needed if c in areas])
    for b in range(n_boot):
        w = pl.DataFrame({"hh_id": hh, "_w": rng.poisson(1.0, len(hh)).astype("float64")})
        sums = persons.join(w, on="hh_id").group_by("village_id").agg(
            [(exprs[c] * pl.col("_w")).sum().alias(c) for c in needed]
        ).rename({"village_id": "code"}).to_pandas()
        table = fixed.merge(sums, on="code", how="left")
        r = rank_areas(table, config, previous=previous, explain=False).set_index("code")
        ranks[b] = r["priority_rank"].reindex(codes).to_numpy()
    return ranks


@click.command("ranking")
@click.option("--dataset", default=None)
@click.option("--province", default="TH58", show_default=True)
@click.option("--replicates", default=50, show_default=True, type=int)
@click.option("--budget", default=20_000_000.0, show_default=True, type=float)
def command(dataset: str | None, province: str, replicates: int, budget: float) -> None:
    """Bootstrap (vectorised vs loop) and selection (MILP vs greedy vs top of ranking)."""
    from service.analysis.rank import load_config
    from service.analysis.select import greedy_knapsack, select_villages, village_costs
    from service.analysis.uncertainty import bootstrap_ranking
    from service.settings import settings_from_env
    from service.store import open_store
    from service.usecases.ranking import load_areas
    from service.usecases.selection import usable_costs, village_table

    settings = settings_from_env()
    dataset = dataset or settings.default_dataset
    store = open_store(settings)
    config = load_config()
    areas, previous, v, _ = load_areas(store, dataset, "village", province=province)
    persons = store.read_persons(dataset, province, version=v.id)
    click.echo(f"{province}: {len(areas):,} villages, {persons['hh_id'].n_unique():,} "
               f"households, {len(persons):,} people; {replicates} replicates")

    t0 = time.perf_counter()
    fast = bootstrap_ranking(persons, level="village", config=config, areas=areas,
                             previous=previous, n_boot=replicates, seed=1, explain=False)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = _naive_bootstrap(persons, areas, config, previous, replicates, seed=1)
    t_naive = time.perf_counter() - t0
    top = fast.sort_values("code")["p_top_n"].to_numpy()
    naive_top = (naive <= 10).mean(axis=0)
    click.echo(f"bootstrap: vectorised {t_fast:.2f} s, loop {t_naive:.2f} s "
               f"({t_naive / t_fast:.1f}x); max |P(top 10) difference| "
               f"{np.abs(top - naive_top).max():.2f} (same seed, same household weights: "
               f"should be 0.00)")

    table, ranking, _ = village_table(store, dataset, province, v.id)
    costs = usable_costs(None, table)
    for objective in ("poor", "target_poor"):
        t0 = time.perf_counter()
        sel = select_villages(table, budget=budget, costs=costs, objective=objective,
                              ranking=ranking)
        t_milp = time.perf_counter() - t0
        prefix = "n_hh_tdep_" if objective == "target_poor" else "n_hh_cdep_"
        cost = village_costs(table, costs, prefix=prefix).to_numpy()
        people = table["n_target_poor" if objective == "target_poor" else "n_poor"]
        value = people.fillna(0).to_numpy("float64")
        t0 = time.perf_counter()
        greedy = greedy_knapsack(value, cost, budget)
        t_greedy = time.perf_counter() - t0
        click.echo(f"selection ({objective}, budget {budget:,.0f} THB): {sel.method} "
                   f"{sel.people_lifted:,} people in {t_milp:.2f} s; greedy "
                   f"{int(value[greedy].sum()):,} in {t_greedy * 1000:.1f} ms; top of ranking "
                   f"{sel.baseline['people_lifted']:,}")
