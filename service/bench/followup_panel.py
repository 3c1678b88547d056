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
   the mean interval width at this scale (``other_seeds``); with ``--error-seeds`` also
   the estimate's error alone (no bootstrap) over that many seeds and how many of them miss
   by as much as the main seed (``error_seeds``);
6. the main seed goes through the direct path of those seeds too (:func:`direct_path`: the
   same help, exits and bootstrap seed, without the case store, the store view and the
   rescored persons): ``direct_path`` gives its estimate, interval and truth and whether
   they are the use case's (``same_as_use_case``), so a miss of the main seed is either
   that assignment's draw (both paths miss alike) or a fault of the use-case path.

``--provinces`` limits the run to some provinces (the others answer "no persons").
"""

from __future__ import annotations

import functools
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


def _panel_parts(baseline: pl.DataFrame, follow: pl.DataFrame
                 ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(the panel's units: households poor at baseline in both rounds, the baseline's poor
    households, their next-round poverty flags): what :func:`direct_path` needs."""
    from service.followup.evaluate import build_panel

    units = build_panel(baseline, follow).frame.filter(pl.col("eligible_poverty"))
    poor = baseline.filter(pl.col("mpi_poor") | pl.col("target_poor"))
    nxt = follow.filter(pl.col("hh_id").is_in(poor["hh_id"].implode())).select(
        "hh_id", "mpi_poor", "target_poor")
    return units, poor, nxt


def direct_path(parts: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], *, help_seed: int,
                exit_seed: int, effect: float, help_share: float, n_boot: int, year: int
                ) -> dict[str, Any]:
    """One seed of the simulation evaluated directly: help assigned to the baseline's poor
    (``help_seed``), its exits (``exit_seed``) set on the panel's outcome,
    :func:`service.followup.evaluate.evaluate` on that panel (bootstrap seed ``help_seed``,
    as the use case is given) and the truth over the same units. Without the case store,
    the store view and the rescored persons of the use-case path, so the two paths can be
    compared on the same seeds (``direct_path`` of the report)."""
    from service.followup.evaluate import Panel, evaluate
    from service.followup.simulate import assign_help, help_exits

    units, poor, nxt = parts
    help_ = assign_help(poor, seed=help_seed, help_share=help_share, year=year)
    exits = help_exits(nxt, help_["hh_id"], effect=effect, seed=exit_seed)["hh_id"]
    frame = units.with_columns(pl.col("exited_poverty")
                               | pl.col("hh_id").is_in(exits.implode()))
    r = evaluate(Panel(frame), help_, n_boot=n_boot, seed=help_seed).iloc[0]
    truth = _truth(units, help_["hh_id"], exits)
    return {"help_seed": help_seed, "exit_seed": exit_seed, "effect": float(r["effect"]),
            "effect_lo": float(r["effect_lo"]), "effect_hi": float(r["effect_hi"]),
            "n_matched": int(r["n_matched"]), "n_help_exits": exits.len(),
            "true_effect_matched": truth["true_effect_matched"],
            "n_matched_truth": truth["n_matched_truth"],
            "error": float(r["effect"]) - truth["true_effect_matched"]}


def seed_coverage(baseline: pl.DataFrame, follow: pl.DataFrame, *, seeds: list[int],
                  effect: float, help_share: float, n_boot: int, year: int,
                  parts: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame] | None = None
                  ) -> dict[str, Any]:
    """The same simulation and evaluation (:func:`direct_path`: the evaluation function on
    the panel, not through the use case) repeated with other seeds of the help assignment
    and of the help exits (``seed + 10000``): how often the 95 % interval holds the true
    effect on the matched helped (one seed can miss by chance: its error is the imbalance
    of that assignment on the outcome without help), the spread of the error and the mean
    interval width."""
    import numpy as np

    parts = parts or _panel_parts(baseline, follow)
    errors, widths, hits = [], [], 0
    for seed in seeds:
        r = direct_path(parts, help_seed=seed, exit_seed=seed + 10_000, effect=effect,
                        help_share=help_share, n_boot=n_boot, year=year)
        hits += bool(r["effect_lo"] <= r["true_effect_matched"] <= r["effect_hi"])
        errors.append(r["error"])
        widths.append(r["effect_hi"] - r["effect_lo"])
    n = len(seeds)
    return {"seeds": f"{seeds[0]}-{seeds[-1]}" if n else "", "n_seeds": n, "n_covered": hits,
            "coverage": hits / n if n else None,
            "mean_error": float(np.mean(errors)) if n else None,
            "sd_error": float(np.std(errors, ddof=1)) if n > 1 else None,
            "mean_interval_width": float(np.mean(widths)) if n else None}


def seed_errors(parts: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], *, seeds: list[int],
                main_error: float, effect: float, help_share: float, year: int
                ) -> dict[str, Any]:
    """The estimate's error (no bootstrap) over many other assignment seeds: its spread and
    how many seeds miss by at least as much as the main seed (``n_as_far``): whether the
    main seed's error is a plausible draw of the same distribution."""
    import numpy as np

    if not seeds:
        return {"n_seeds": 0}
    e = np.array([direct_path(parts, help_seed=s, exit_seed=s + 10_000, effect=effect,
                              help_share=help_share, n_boot=0, year=year)["error"]
                  for s in seeds])
    sd = float(np.std(e, ddof=1)) if len(e) > 1 else float("nan")
    return {"seeds": f"{seeds[0]}-{seeds[-1]}", "n_seeds": len(seeds),
            "mean_error": float(e.mean()), "sd_error": sd,
            "min_error": float(e.min()), "max_error": float(e.max()),
            "main_error_in_sds": (main_error - float(e.mean())) / sd if sd > 0 else None,
            "n_as_far": int((np.abs(e - e.mean()) >= abs(main_error - e.mean())).sum())}


def run(source_data_dir: str | Path, work_dir: str | Path, *, dataset: str = "demo",
        baseline_round: int, follow_round: int, provinces: list[str] | None = None,
        effect: float = 0.3, help_share: float = 0.4, n_boot: int = 500,
        seed: int = 2562, coverage_seeds: int = 20, error_seeds: int = 0
        ) -> dict[str, Any]:
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
    parts = clock.run("panel units (direct path)", _panel_parts, baseline, nxt)
    sim: dict[str, Any] = {"effect": effect, "help_share": help_share,
                           "year": baseline_round - 543}
    # the main seed again through the direct path (the coverage seeds' path): same help
    # (seed), same exits (seed + 1), same bootstrap seed
    direct = clock.run("main seed, direct path", functools.partial(
        direct_path, help_seed=seed, exit_seed=seed + 1, n_boot=n_boot, **sim), parts)
    coverage = clock.run(f"coverage over {coverage_seeds} other seeds", functools.partial(
        seed_coverage, seeds=[seed + i for i in range(1, coverage_seeds + 1)],
        n_boot=n_boot, parts=parts, **sim), baseline, nxt)
    errors = clock.run(f"errors over {error_seeds} other seeds (no bootstrap)",
                       functools.partial(seed_errors, seeds=[seed + i for i in range(
                           1, error_seeds + 1)], main_error=direct["error"], **sim), parts)
    del baseline, nxt, parts
    services.store = SimulatedNextRound(store, dataset=dataset, follow=follow, exits=exits,
                                        provinces=set(scope))  # type: ignore[assignment]
    ev = clock.run("evaluation (use case, bootstrap)", lambda: uc.evaluation(
        services, Principal("national", None, "bench"), dataset=dataset, n_boot=n_boot,
        seed=seed))
    r = ev.results.iloc[0].to_dict()
    covered = bool(r["effect_lo"] <= truth["true_effect_matched"] <= r["effect_hi"])
    same = {"effect": r["effect"], "effect_lo": r["effect_lo"], "effect_hi": r["effect_hi"],
            "true_effect_matched": truth["true_effect_matched"], "n_matched": r["n_matched"],
            "n_matched_truth": truth["n_matched_truth"]}
    direct["same_as_use_case"] = all(
        abs(float(direct[k]) - float(v)) <= 1e-12 for k, v in same.items())
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
        "direct_path": direct, "other_seeds": coverage, "error_seeds": errors,
        "seed": seed, "n_boot": n_boot, "steps": clock.steps, "cpu_s": round(cpu, 1),
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
@click.option("--error-seeds", type=int, default=0, show_default=True,
              help="Also the estimate's error (no bootstrap) over this many other seeds.")
@click.option("--seed", type=int, default=2562, show_default=True,
              help="Seed of the main run's help assignment (its exits: seed + 1).")
@click.option("--work-dir", default=None, help="Where the catalog copy goes (a temp dir).")
def command(source: str, dataset: str, baseline_round: int, follow_round: int,
            provinces: str | None, effect: float, help_share: float, n_boot: int,
            coverage_seeds: int, error_seeds: int, seed: int, work_dir: str | None) -> None:
    """Evaluation of simulated help with a known effect on a real two-round panel."""
    provs = [p.strip().upper() for p in provinces.split(",")] if provinces else None
    with tempfile.TemporaryDirectory(prefix="chipao-fu-panel-") as tmp:
        out = run(source, work_dir or tmp, dataset=dataset, baseline_round=baseline_round,
                  follow_round=follow_round, provinces=provs, effect=effect,
                  help_share=help_share, n_boot=n_boot, coverage_seeds=coverage_seeds,
                  error_seeds=error_seeds, seed=seed)
    click.echo(json.dumps(out, ensure_ascii=False, indent=1, default=str))
