"""`chipao bench followup-panel --source DATA_DIR`: does the evaluation recover a known effect
of help on a real two-round panel (the national demo)?

The source data dir (its catalog and version files) is only read: its SQLite catalog is copied
into a work dir (``sqlite3`` backup from a read-only connection) and the versions' files are
read where they are. In the copy:

1. baseline = the ready version of ``--baseline-round``; the follow-up of that round is opened
   (a case per target household of every province, :meth:`CaseStore.sync_cases`);
2. help is simulated on the baseline's poor households with confounded selection
   (:func:`service.followup.simulate.assign_help`) and recorded on their cases through the
   bulk path of agency imports (:meth:`CaseStore.insert_assistance`);
3. the next round (``--follow-round``) is what happened without help: a helped household
   still poor there leaves poverty because of the help with probability ``--effect``
   (:func:`~service.followup.simulate.help_exits`), so every helped household's Y(1) − Y(0)
   is known: the true effect on the helped = those exits / helped households in both rounds
   (``true_effect``), and over the helped households the evaluation can match
   (``true_effect_matched``, its estimand: :func:`true_effects`); the evaluation reads the
   next round's persons through a store view that applies those exits
   (:func:`~service.followup.simulate.exit_scored`), nothing is written;
4. the use case :func:`service.usecases.cases.evaluation` (national user, every province of
   the run) estimates the effect with its bootstrap interval; the report says whether the
   interval holds the true effect on the matched helped households (``covered``), beside
   the naive helped-vs-not difference, and the wall and CPU time of every step;
5. one seed can miss by chance (its error is how unbalanced that one assignment happens to
   be on the outcome without help), so steps 2-4 are repeated on the panel with
   ``--coverage-seeds`` other seeds (:func:`seed_coverage`: the evaluation function without
   the use case's reads): the coverage rate of the interval, the spread of the error and
   the mean interval width at this scale (``other_seeds``).

``--provinces`` limits the run to some provinces (the others answer "no persons").
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import polars as pl

from service.errors import NotFound


class SimulatedNextRound:
    """A read-only view of a store: the follow-up round is current, its persons have the
    simulated help exits applied, provinces outside the run have no persons."""

    def __init__(self, store: Any, *, dataset: str, follow: Any, exits: pl.Series,
                 provinces: set[str]) -> None:
        self._store, self._dataset, self._follow = store, dataset, follow
        self._exits, self._provinces = exits, provinces

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def current(self, dataset: str) -> Any:
        return self._follow if dataset == self._dataset else self._store.current(dataset)

    def versions(self, dataset: str, **kw: Any) -> list[Any]:
        out = self._store.versions(dataset, **kw)
        if dataset != self._dataset:
            return out
        return [v for v in out if v.round <= self._follow.round]

    def read_persons(self, dataset: str, province: str, *, version: str | None = None
                     ) -> pl.DataFrame:
        if dataset == self._dataset and province not in self._provinces:
            raise NotFound(f"no persons in {province} in this run")
        frame = self._store.read_persons(dataset, province, version=version)
        if dataset == self._dataset and version == self._follow.id:
            from service.followup.simulate import exit_scored

            frame = exit_scored(frame, self._exits)
        return frame


def _copy_catalog(source_url: str, target: Path) -> str:
    prefix = "sqlite:///"
    if not source_url.startswith(prefix):
        raise click.ClickException("the source catalog must be SQLite (it is copied, never "
                                   "written) / ต้องเป็นฐานข้อมูล SQLite")
    src = sqlite3.connect(f"file:{source_url[len(prefix):]}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    return f"{prefix}{target}"


class _Clock:
    def __init__(self) -> None:
        self.steps: dict[str, dict[str, float]] = {}

    def run(self, name: str, fn: Any, *args: Any) -> Any:
        w, c = time.perf_counter(), time.process_time()
        out = fn(*args)
        self.steps[name] = {"wall_s": round(time.perf_counter() - w, 2),
                            "cpu_s": round(time.process_time() - c, 2)}
        click.echo(f"  {name}: {self.steps[name]['wall_s']:.1f} s wall, "
                   f"{self.steps[name]['cpu_s']:.1f} s CPU", err=True)
        return out


def true_effects(baseline: pl.DataFrame, follow: pl.DataFrame, helped: pl.Series,
                 exits: pl.Series) -> dict[str, Any]:
    """The true effect on the helped, known household by household (1 for a help exit, 0
    otherwise): over every helped household of the panel, and over those the evaluation
    can match (strata of :func:`service.followup.evaluate.build_panel` holding a household
    not helped): the evaluation's estimand, since unmatched helped households are left out
    (``n_unmatched``)."""
    from service.followup.evaluate import build_panel

    return _truth(build_panel(baseline, follow).frame.filter(pl.col("eligible_poverty")),
                  helped, exits)


def _truth(units: pl.DataFrame, helped: pl.Series, exits: pl.Series) -> dict[str, Any]:
    """:func:`true_effects` on the panel's units (households poor at baseline)."""
    units = units.select(
        "hh_id", "stratum", pl.col("hh_id").is_in(helped.implode()).alias("t"),
        pl.col("hh_id").is_in(exits.implode()).alias("x"))
    controlled = units.filter(~pl.col("t"))["stratum"].unique()
    treated = units.filter(pl.col("t"))
    matched = treated.filter(pl.col("stratum").is_in(controlled.implode()))

    def share(f: pl.DataFrame) -> float:
        return float(f["x"].cast(pl.Int64).sum()) / f.height if f.height else float("nan")

    return {"n_helped_in_panel": treated.height, "true_effect": share(treated),
            "n_matched_truth": matched.height, "true_effect_matched": share(matched)}


def seed_coverage(baseline: pl.DataFrame, follow: pl.DataFrame, *, seeds: list[int],
                  effect: float, help_share: float, n_boot: int, year: int
                  ) -> dict[str, Any]:
    """The same simulation and evaluation (:func:`service.followup.evaluate.evaluate` on the
    panel, not through the use case) repeated with other seeds of the help assignment and
    of the help exits: how often the 95 % interval holds the true effect on the matched
    helped (one seed can miss by chance: its error is the imbalance of that assignment on
    the outcome without help), the spread of the error and the mean interval width."""
    import numpy as np

    from service.followup.evaluate import Panel, build_panel, evaluate
    from service.followup.simulate import assign_help, help_exits

    units = build_panel(baseline, follow).frame.filter(pl.col("eligible_poverty"))
    poor = baseline.filter(pl.col("mpi_poor") | pl.col("target_poor"))
    nxt = follow.filter(pl.col("hh_id").is_in(poor["hh_id"].implode())).select(
        "hh_id", "mpi_poor", "target_poor")
    errors, widths, hits = [], [], 0
    for seed in seeds:
        help_ = assign_help(poor, seed=seed, help_share=help_share, year=year)
        exits = help_exits(nxt, help_["hh_id"], effect=effect, seed=seed + 10_000)["hh_id"]
        frame = units.with_columns(pl.col("exited_poverty")
                                   | pl.col("hh_id").is_in(exits.implode()))
        r = evaluate(Panel(frame), help_, n_boot=n_boot, seed=seed).iloc[0]
        truth = _truth(units, help_["hh_id"], exits)["true_effect_matched"]
        hits += bool(r["effect_lo"] <= truth <= r["effect_hi"])
        errors.append(float(r["effect"] - truth))
        widths.append(float(r["effect_hi"] - r["effect_lo"]))
    n = len(seeds)
    return {"seeds": f"{seeds[0]}-{seeds[-1]}" if n else "", "n_seeds": n, "n_covered": hits,
            "coverage": hits / n if n else None,
            "mean_error": float(np.mean(errors)) if n else None,
            "sd_error": float(np.std(errors, ddof=1)) if n > 1 else None,
            "mean_interval_width": float(np.mean(widths)) if n else None}


def run(source_data_dir: str | Path, work_dir: str | Path, *, dataset: str = "demo",
        baseline_round: int, follow_round: int, provinces: list[str] | None = None,
        effect: float = 0.3, help_share: float = 0.4, n_boot: int = 500,
        seed: int = 2562, coverage_seeds: int = 20) -> dict[str, Any]:
    """The whole benchmark (see the module docstring); returns the report."""
    from service.access.principal import Principal
    from service.followup.households import household_frame, target_rule
    from service.followup.simulate import assign_help, help_exits
    from service.followup.store import ASSIST_COLUMNS, CaseStore
    from service.services import Services
    from service.settings import load_settings
    from service.usecases import cases as uc

    clock = _Clock()
    src = load_settings({"data_dir": str(source_data_dir)}, environ={})
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    url = _copy_catalog(src.database_url, work / "chipao.db")
    services = Services.create({"data_dir": str(work), "database_url": url,
                                "boundaries_dir": str(src.boundaries_dir)})
    store = services.store
    by_round = {v.round: v for v in store.versions(dataset)}
    base, follow = by_round[baseline_round], by_round[follow_round]
    all_provinces = sorted(p.stem for p in (Path(base.path) / "persons").glob("*.parquet"))
    scope = sorted(set(provinces) & set(all_provinces)) if provinces else all_provinces
    cases = CaseStore(url)
    services.followup = cases

    def households(version: Any) -> pl.DataFrame:
        return pl.concat([household_frame(store.read_persons(dataset, p, version=version.id))
                          for p in scope])

    baseline = clock.run("baseline households", lambda: households(base))

    def open_cases(frame: pl.DataFrame) -> int:
        targets = frame.filter(target_rule())
        for p in scope:
            cases.sync_cases(dataset, version_id=base.id, round=base.round, province=p,
                             households=targets)
        return targets.height

    n_cases = clock.run("open cases (baseline round)", open_cases, baseline)

    class System:
        username, role, province = "simulation", "national", None

    def record_help(frame: pl.DataFrame) -> pl.DataFrame:
        help_ = assign_help(frame, seed=seed, help_share=help_share,
                            year=baseline_round - 543)
        ids = cases.cases_by_hh(dataset, help_["hh_id"].to_list())
        rows = (help_.join(ids.select("hh_id", "case_id"), on="hh_id", how="inner")
                .with_columns(note=pl.lit("simulated"), source_row=pl.lit(None, pl.Int64)))
        cases.insert_assistance(dataset, rows.select(ASSIST_COLUMNS), actor=System())
        return help_

    help_ = clock.run("record help (bulk insert)", record_help, baseline)
    nxt = clock.run("next-round households", lambda: households(follow))
    exits = help_exits(nxt, help_["hh_id"], effect=effect, seed=seed + 1)["hh_id"]
    poor0 = baseline.filter(pl.col("mpi_poor") | pl.col("target_poor"))["hh_id"]
    in_panel = help_.filter(pl.col("hh_id").is_in(poor0.implode())
                            & pl.col("hh_id").is_in(nxt["hh_id"].implode()))["hh_id"]
    natural = nxt.filter(pl.col("hh_id").is_in(in_panel.implode())
                         & ~(pl.col("mpi_poor") | pl.col("target_poor"))).height
    truth = clock.run("true effects", true_effects, baseline, nxt, help_["hh_id"], exits)
    coverage = clock.run(f"coverage over {coverage_seeds} other seeds", lambda b, f: (
        seed_coverage(b, f, seeds=[seed + i for i in range(1, coverage_seeds + 1)],
                      effect=effect, help_share=help_share, n_boot=n_boot,
                      year=baseline_round - 543)), baseline, nxt)
    del baseline, nxt
    services.store = SimulatedNextRound(store, dataset=dataset, follow=follow, exits=exits,
                                        provinces=set(scope))  # type: ignore[assignment]
    ev = clock.run("evaluation (use case, bootstrap)", lambda: uc.evaluation(
        services, Principal("national", None, "bench"), dataset=dataset, n_boot=n_boot,
        seed=seed))
    r = ev.results.iloc[0].to_dict()
    covered = bool(r["effect_lo"] <= truth["true_effect_matched"] <= r["effect_hi"])
    cpu = sum(s["cpu_s"] for s in clock.steps.values())
    return {
        "dataset": dataset, "baseline": base.id, "follow": follow.id,
        "provinces": len(scope), "province_codes": scope if len(scope) < 20 else "all",
        "n_cases": n_cases, "n_help_records": help_.height, "n_panel": ev.n_panel,
        "natural_exit_rate_helped": natural / in_panel.len() if in_panel.len() else None,
        "n_help_exits": exits.len(), "help_probability_effect": effect, **truth,
        "effect": r["effect"], "effect_lo": r["effect_lo"],
        "effect_hi": r["effect_hi"], "naive_effect": r["naive_effect"],
        "n_matched": r["n_matched"], "n_unmatched": r["n_unmatched"],
        "n_comparison": r["n_comparison"], "exit_rate_helped": r["exit_rate_helped"],
        "exit_rate_comparison": r["exit_rate_comparison"], "covered": covered,
        "error": r["effect"] - truth["true_effect_matched"],
        "error_in_seed_sds": ((r["effect"] - truth["true_effect_matched"])
                              / coverage["sd_error"] if coverage["sd_error"] else None),
        "other_seeds": coverage,
        "n_boot": n_boot, "steps": clock.steps, "cpu_s": round(cpu, 1),
    }


@click.command("followup-panel")
@click.option("--source", "source", required=True, type=click.Path(exists=True,
                                                                   file_okay=False),
              help="Data dir of the two-round panel (read only).")
@click.option("--dataset", default="demo", show_default=True)
@click.option("--baseline-round", type=int, default=2561, show_default=True)
@click.option("--follow-round", type=int, default=2562, show_default=True)
@click.option("--provinces", default=None, help="Comma-separated province codes (all).")
@click.option("--effect", type=float, default=0.3, show_default=True,
              help="Probability that help takes a household that stayed poor out of poverty.")
@click.option("--help-share", type=float, default=0.4, show_default=True)
@click.option("--n-boot", type=int, default=500, show_default=True)
@click.option("--coverage-seeds", type=int, default=20, show_default=True,
              help="Repeat the simulation with this many other seeds (coverage rate).")
@click.option("--work-dir", default=None, help="Where the catalog copy goes (a temp dir).")
def command(source: str, dataset: str, baseline_round: int, follow_round: int,
            provinces: str | None, effect: float, help_share: float, n_boot: int,
            coverage_seeds: int, work_dir: str | None) -> None:
    """Evaluation of simulated help with a known effect on a real two-round panel."""
    provs = [p.strip().upper() for p in provinces.split(",")] if provinces else None
    with tempfile.TemporaryDirectory(prefix="chipao-fu-panel-") as tmp:
        out = run(source, work_dir or tmp, dataset=dataset, baseline_round=baseline_round,
                  follow_round=follow_round, provinces=provs, effect=effect,
                  help_share=help_share, n_boot=n_boot, coverage_seeds=coverage_seeds)
    click.echo(json.dumps(out, ensure_ascii=False, indent=1, default=str))
