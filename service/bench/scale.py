"""`chipao bench scale`: the benchmarks of issue 17 item 7 in ONE run, one after another on
the same machine, each measurement in its own process: its wall time, its CPU seconds
(``os.wait4``: the process and every process it started and waited for) and its peak RSS
(the largest single process of that tree: its own VmHWM and ``RUSAGE_CHILDREN``, taken in
the process, as a child's ``ru_maxrss`` starts from the RSS of the process that started it):

1. ``rounds``: a three-round national build of the demo panel (``chipao bench panel``'s
   ``build_demo``: round 2561 generated, later rounds derived, one version per round with
   the panel stage) — time per round and peak memory.
2. ``build``: one round's build (round 2561's persons of the same data directory: nothing
   generated twice) in one process vs on a dask LocalCluster of N worker processes
   (``chipao bench build``'s :func:`~service.bench.build.build_once`), bytes compared.
3. ``ingest``: ``chipao ingest`` of synthetic exports of 1 M and 10 M rows vs pyarrow's raw
   parse of the same file (``chipao bench ingest``'s export and measuring script).
4. ``load``: 50 and 200 concurrent clients on the mixed traffic against 1 and 2 server
   processes (``chipao bench load``'s :func:`~service.bench.load.run_load`; 2 processes are
   ``chipao serve --workers 2`` with a Redis rate-limit store: ``--redis``, or a throwaway
   ``redis-server`` started by the part).

Recorded: the machine (cores, RAM, commit), the load average before each part, and every
part's status: a part that fails is reported as failed (its rows too), never left out, and
the command then ends with exit status 1 after writing the report.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

PARTS = ("rounds", "build", "ingest", "load")
#: a child's result: the last line of its standard output that starts with this
RESULT = "CHIPAO-BENCH-RESULT "
_CHILD = ("import sys; from service.bench.scale import child_main; "
          "child_main(sys.argv[1], sys.argv[2])")


# --- in the child processes -------------------------------------------------------------

def _vm_hwm() -> int:
    """Peak RSS of this process's own address space (bytes)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:"))


def task_rounds(data_dir: str, provinces: list[str] | None, rounds: list[int],
                seed: int) -> dict:
    from service.demo.build import build_demo
    from service.settings import load_settings
    from service.store import open_store

    settings = load_settings({"data_dir": data_dir})
    store = open_store(settings)
    before = ({v.id for v in store.versions("demo", superseded=True)}
              if "demo" in store.datasets() else set())
    marks: list[str] = []
    versions = build_demo(settings, provinces=provinces, seed=seed, map_artefacts=False,
                          dataset="demo", rounds=rounds, echo=marks.append, workers=1)
    seconds = {}
    for text in marks:  # "  round 2561: … people -> version r2561-… (282.8 s)"
        words = text.split()
        if words[:1] == ["round"] and "->" in words:
            seconds[int(words[1].rstrip(":"))] = float(words[-2].strip("(").replace(",", ""))
    return {"rounds": [{"round": v.round, "n_persons": int(v.n_persons or 0),
                        "seconds": seconds.get(v.round), "reused": v.id in before,
                        "stage_seconds": v.meta.get("stage_seconds")} for v in versions],
            "main_peak_rss": _vm_hwm()}


def task_generate(out: str, provinces: list[str] | None, seed: int) -> dict:
    from service.demo.panel import BASE_ROUND, generate_panel

    generate_panel([BASE_ROUND], seed=seed, out=out, provinces=provinces)
    return {}


def task_build(kind: str, workers: int, persons_dir: str, out: str, root: str, seed: int,
               raster: bool) -> dict:
    import shutil

    from service.bench.build import build_once, prepare_inputs

    src, cache, boundaries_dir, tif = prepare_inputs(Path(root), None, seed, raster,
                                                     src=Path(persons_dir))
    try:
        return build_once(kind, workers, persons_dir=src, out=Path(out), cache=cache,
                          boundaries_dir=boundaries_dir, raster=tif)
    finally:  # a national version is GBs: its digest is what the run keeps
        shutil.rmtree(out, ignore_errors=True)


def task_export(path: str, rows: int) -> dict:
    from service.bench.ingest import make_export
    from service.settings import load_settings

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if not p.exists():
        tmp = p.with_suffix(".part")
        make_export(tmp, rows, boundaries_dir=load_settings({}).boundaries_dir)
        tmp.replace(p)
    return {"rows": rows, "bytes": p.stat().st_size}


def _start_redis() -> tuple[subprocess.Popen, str]:
    import shutil

    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("2 or more server processes need Redis: give --redis "
                           "redis://HOST:PORT/DB or install redis-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    return proc, f"redis://127.0.0.1:{port}/0"


def _check_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    for _ in range(50):
        try:
            client.ping()
            return
        except redis.exceptions.ConnectionError as exc:
            error = exc
            time.sleep(0.1)
    raise RuntimeError(f"Redis at {url} does not answer: {error}")


def task_load(data_dir: str, province: str, clients: list[int], seconds: float,
              threads: int, processes: int, seed: int, uploads: bool, redis: str,
              warm: bool = True, settle: float = 0.0) -> dict:
    from service.bench.load import run_load

    server = "waitress" if processes == 1 else f"gunicorn-{processes}"
    own_redis = None
    if processes > 1:
        if not redis:
            own_redis, redis = _start_redis()
        _check_redis(redis)
    # the servers' start-up map warm-up (every province's artefacts) would run during the
    # phases: off; the load bench warms every path of its mix itself before measuring
    os.environ["CHIPAO_MAP_WARMUP"] = "off"
    try:
        rows = run_load(Path(data_dir), province=province, clients=clients, seconds=seconds,
                        threads=threads, server=server, seed=seed, uploads=uploads,
                        redis=redis, warm=warm, settle=settle)
    finally:
        if own_redis is not None:
            own_redis.terminate()
            own_redis.wait(timeout=10)
    return {"rows": [{k: v for k, v in r.items() if k != "slowest_mean_ms"} for r in rows]}


TASKS: dict[str, Callable[..., dict]] = {
    "rounds": task_rounds, "generate": task_generate, "build": task_build,
    "export": task_export, "load": task_load}


def child_main(task: str, arguments: str) -> None:
    """Entry of a part's process: run ``TASKS[task](**arguments)``, print its result."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import resource

    result = TASKS[task](**json.loads(arguments))
    # peaks measured here, not by the command's os.wait4: a child's ru_maxrss starts from
    # the RSS of the process that started it (fork/vfork + exec)
    result["peak_rss"] = _vm_hwm()
    result["child_rss"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(RESULT + json.dumps(result, default=str), flush=True)


# --- in the command's process -----------------------------------------------------------

@dataclass
class Run:
    """One measured process: what it is, how it went, what it measured."""
    part: str
    label: str
    status: str = "not run"
    wall: float = 0.0
    cpu: float = 0.0
    peak_rss: int = 0
    load_before: float = 0.0
    error: str = ""
    result: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def run_process(run: Run, argv: list[str], *, log_path: Path, timeout: float | None,
                env: dict[str, str] | None = None) -> Run:
    """Run ``argv`` as ``run``'s own process (a new session: on a timeout the whole group is
    ended); wall time, CPU and peak RSS from ``os.wait4``; the result from its output."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    run.load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with open(log_path, "w+b") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        timed_out = False
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if timeout is not None and time.perf_counter() - started > timeout:
                    timed_out = True
                    os.killpg(proc.pid, signal.SIGKILL)
                    pid, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.1)
        except BaseException:  # interrupted (Ctrl+C, SIGTERM): its own session would go on
            os.killpg(proc.pid, signal.SIGKILL)
            os.wait4(proc.pid, 0)
            proc.returncode = -signal.SIGKILL
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        run.wall = time.perf_counter() - started
        run.cpu = usage.ru_utime + usage.ru_stime
        run.peak_rss = usage.ru_maxrss * 1024
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    lines = text.splitlines()
    found = [ln[len(RESULT):] for ln in lines if ln.startswith(RESULT)]
    payload = next((ln for ln in reversed(lines) if ln.startswith("{")), None)
    if timed_out:
        run.status, run.error = "failed", f"timed out after {timeout:,.0f} s"
    elif proc.returncode != 0:
        tail = [ln.strip() for ln in lines if ln.strip()][-1:] or ["(no output)"]
        run.status = "failed"
        run.error = f"exit status {proc.returncode}: {tail[0][:300]} (log: {log_path})"
    else:
        try:
            run.result = json.loads(found[-1] if found else payload or "")
            run.status = "ok"
        except ValueError:
            run.status, run.error = "failed", f"no result in the output (log: {log_path})"
    if "peak_rss" in run.result:  # the process's own peak and its children's largest
        run.peak_rss = max(run.result["peak_rss"], run.result.get("child_rss", 0))
    return run


def machine() -> dict[str, Any]:
    with open("/proc/meminfo") as fh:
        mem = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemTotal:"))
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               check=True).stdout.strip()
        commit += " (+ uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown (not a git checkout)"
    return {"cores": os.cpu_count(), "ram": mem, "commit": commit,
            "python": platform.python_version(), "system": platform.platform(),
            "load": os.getloadavg()}


def _int_list(value: str, name: str) -> list[int]:
    try:
        items = [int(v.replace("_", "")) for v in value.split(",") if v.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: comma-separated whole numbers", param_hint=name
                                 ) from exc
    if not items or min(items) < 1:
        raise click.BadParameter(f"{value!r}: at least one number, each >= 1",
                                 param_hint=name)
    return items


@dataclass
class Plan:
    data_dir: Path
    provinces: list[str] | None
    rounds: list[int]
    seed: int
    dask_workers: list[int]
    raster: bool
    ingest_rows: list[int]
    clients: list[int]
    processes: list[int]
    load_province: str
    load_seconds: float
    threads: int
    uploads: bool
    warm: bool
    settle: float
    redis: str
    timeout: float | None


def _child(task: str, **arguments: Any) -> list[str]:
    return [sys.executable, "-c", _CHILD, task, json.dumps(arguments)]


def run_plan(plan: Plan, parts: list[str], echo: Callable[[str], None]) -> list[Run]:
    """Every part of ``parts`` (in the order of :data:`PARTS`), one process per
    measurement; returns every run, failed ones included."""
    from service.demo.build import source_dir
    from service.demo.panel import BASE_ROUND, round_dir

    logs = plan.data_dir / "scale-logs"
    runs: list[Run] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def measure(run: Run, argv: list[str], key: str) -> Run:
        echo(f"[{datetime.now(UTC):%H:%M:%S}] {run.part}: {run.label} …")
        run_process(run, argv, log_path=logs / f"{key}.log", timeout=plan.timeout, env=env)
        echo(f"    {run.status} {run.wall:,.1f} s" + (f" — {run.error}" if run.error else ""))
        runs.append(run)
        return run

    dd = str(plan.data_dir)
    src = source_dir(plan.data_dir, plan.seed, plan.provinces)
    where = "all provinces" if plan.provinces is None else ", ".join(plan.provinces)
    if "rounds" in parts:
        measure(Run("rounds", f"rounds {', '.join(map(str, plan.rounds))} of {where} "
                              "(generate, derive, build each round with the panel stage)"),
                _child("rounds", data_dir=dd, provinces=plan.provinces, rounds=plan.rounds,
                       seed=plan.seed), "rounds")
    if "build" in parts:
        persons = round_dir(src, BASE_ROUND)
        ready = (persons / "manifest.json").exists()
        if not ready:
            ready = measure(Run("build", f"persons of round {BASE_ROUND} ({where}), generated "
                                         "for the builds (not a build)"),
                            _child("generate", out=str(src), provinces=plan.provinces,
                                   seed=plan.seed), "build-generate").ok
        kinds = [("single", 0), *(("dask", n) for n in plan.dask_workers)]
        for kind, n in kinds:
            label = (f"round {BASE_ROUND} of {where}, one process" if kind == "single"
                     else f"round {BASE_ROUND} of {where}, dask LocalCluster of {n} worker "
                          "processes")
            run = Run("build", label, result={"kind": kind, "workers": n})
            if not ready:
                run.status, run.error = "failed", "no persons to build (generation failed)"
                runs.append(run)
                continue
            measure(run, _child("build", kind=kind, workers=n, persons_dir=str(persons),
                                out=str(plan.data_dir / f"scale-build-{kind}-{n}"), root=dd,
                                seed=plan.seed, raster=plan.raster), f"build-{kind}-{n}")
    if "ingest" in parts:
        from service.bench import ingest

        for rows in plan.ingest_rows:
            path = plan.data_dir / "ingest" / f"bmn-export-{rows}.csv"
            made = measure(Run("ingest", f"{rows:,} rows: synthetic export written (not "
                                         "measured against)"),
                           _child("export", path=str(path), rows=rows), f"export-{rows}").ok
            for mode, label in (("pyarrow", "pyarrow raw parse (read_csv, all cores, no "
                                            "checks)"),
                                ("chipao-1", "chipao ingest, one process"),
                                ("chipao-2", "chipao ingest, 2 worker processes")):
                run = Run("ingest", f"{rows:,} rows: {label}", result={"mode": mode})
                if not made:
                    run.status, run.error = "failed", "no export (its generation failed)"
                    runs.append(run)
                    continue
                var = plan.data_dir / "ingest" / f"var-{mode}-{rows}"
                measure(run, [sys.executable, "-c", ingest._CHILD, mode, str(path), str(var)],
                        f"ingest-{mode}-{rows}")
                run.result.setdefault("mode", mode)
                import shutil

                shutil.rmtree(var, ignore_errors=True)
    if "load" in parts:
        for n in plan.processes:
            server = ("1 server process (waitress" if n == 1
                      else f"{n} server processes (gunicorn, Redis limits")
            run = Run("load", f"{server}, {plan.threads} threads each): "
                              f"{'/'.join(map(str, plan.clients))} clients × "
                              f"{plan.load_seconds:g} s, province {plan.load_province}",
                      result={"processes": n})
            measure(run, _child("load", data_dir=dd, province=plan.load_province,
                                clients=plan.clients, seconds=plan.load_seconds,
                                threads=plan.threads, processes=n, seed=plan.seed,
                                uploads=plan.uploads, redis=plan.redis, warm=plan.warm,
                                settle=plan.settle),
                    f"load-{n}")
            run.result.setdefault("processes", n)
    return runs


# --- the report -------------------------------------------------------------------------

def _gib(n: float) -> str:
    return f"{n / 2**30:,.2f} GiB"


def _failed(run: Run) -> str:
    return f"**FAILED**: {run.error}"


def report(plan: Plan, parts: list[str], runs: list[Run], info: dict[str, Any],
           started: datetime, command_line: str) -> str:
    ended = datetime.now(UTC)
    out = [f"### `chipao bench scale`, {started:%Y-%m-%d %H:%M}-{ended:%H:%M} UTC",
           "",
           f"Machine: {info['cores']} cores, {_gib(info['ram'])} RAM, {info['system']}, "
           f"Python {info['python']}; commit {info['commit']}; load average at the start "
           f"{info['load'][0]:.2f} / {info['load'][1]:.2f} / {info['load'][2]:.2f} "
           "(1 / 5 / 15 min).",
           "",
           f"Command: `{command_line}`",
           "",
           "Each row is its own process, one after another (wall time, CPU seconds of the "
           "process and those it started, peak RSS of the largest of them, load average "
           "just before it).",
           "",
           "| part | what | status | wall | CPU | peak RSS | load before |",
           "|---|---|---|---|---|---|---|"]
    for r in runs:
        status = "ok" if r.ok else _failed(r)
        out.append(f"| {r.part} | {r.label} | {status} | {r.wall:,.1f} s | {r.cpu:,.1f} s | "
                   f"{_gib(r.peak_rss)} | {r.load_before:.2f} |")
    if "rounds" in parts:
        out += ["", "**Multi-round build** (`build_demo`, as `chipao demo` / `chipao bench "
                "panel`; each round's wall as its log gives it: from a fresh data directory "
                "round 2561's generation runs beside its build and is in it):", "",
                "| multi-round build | round | persons | round's wall | total wall | peak RSS | "
                "stages (s) |", "|---|---|---|---|---|---|---|"]
        for r in (x for x in runs if x.part == "rounds"):
            if not r.ok:
                out.append(f"| {', '.join(map(str, plan.rounds))} | — | — | — | — | "
                           f"{_failed(r)} | — |")
                continue
            total = sum(x["n_persons"] for x in r.result["rounds"])
            for x in r.result["rounds"]:
                secs = ("found on disk (built by an earlier run): not measured"
                        if x.get("reused") else f"{x['seconds']:,.1f} s"
                        if x["seconds"] is not None else "—")
                stages = ", ".join(f"{k} {v:,.1f}" for k, v in
                                   (x.get("stage_seconds") or {}).items())
                out.append(f"| | {x['round']} | {x['n_persons']:,} | {secs} | | | {stages} |")
            out.append(f"| **all** | {len(r.result['rounds'])} rounds | **{total:,}** | | "
                       f"**{r.wall:,.1f} s** (with generation) | **{_gib(r.peak_rss)}** "
                       f"(main process {_gib(r.result['main_peak_rss'])}) | |")
    builds = [r for r in runs if r.part == "build" and "kind" in r.result]
    if builds:
        single = next((r for r in builds if r.result["kind"] == "single" and r.ok), None)
        out += ["", "**One round's build, one process vs dask** (cluster start-up not in the "
                "build time; identical = same bytes of every area table and scored-person "
                "file):", "",
                "| one round's build | persons | build time | persons/s | ÷ one process | identical to "
                "one process | peak RSS | stages (s, summed over provinces) |",
                "|---|---|---|---|---|---|---|---|"]
        for r in builds:
            name = ("one process" if r.result["kind"] == "single"
                    else f"dask, {r.result['workers']} worker processes")
            if not r.ok:
                out.append(f"| {name} | — | — | — | — | — | {_failed(r)} | — |")
                continue
            x = r.result
            stages = ", ".join(f"{k} {v:,.1f}" for k, v in x["stages"].items())
            ratio = (f"{x['seconds'] / single.result['seconds']:,.2f}×" if single else "—")
            same = ("—" if single is None else
                    "yes" if x["digest"] == single.result["digest"] else "**NO**")
            out.append(f"| {name} | {x['n_persons']:,} | {x['seconds']:,.1f} s | "
                       f"{x['n_persons'] / x['seconds']:,.0f} | {ratio} | {same} | "
                       f"{_gib(r.peak_rss)} | {stages} |")
    ingests = [r for r in runs if r.part == "ingest" and "mode" in r.result]
    if ingests:
        out += ["", "**Ingest vs pyarrow's raw parse** (same file; chipao: SHA-256, decode "
                "check, every rule, HMAC pseudonyms, duplicates, Parquet):", "",
                "| rows | step | time | per million rows | ÷ pyarrow raw parse | peak RSS |",
                "|---|---|---|---|---|---|"]
        raw: dict[str, float] = {}
        for r in ingests:
            rows_label, _, step = r.label.partition(": ")
            if not r.ok:
                out.append(f"| {rows_label} | {step} | — | — | — | {_failed(r)} |")
                continue
            x = r.result
            if x["mode"] == "pyarrow":
                raw[rows_label] = x["seconds"]
            ratio = (f"{x['seconds'] / raw[rows_label]:,.2f}×" if rows_label in raw else "—")
            out.append(f"| {x['rows']:,} | {step} | {x['seconds']:,.1f} s | "
                       f"{x['seconds'] * 1e6 / max(x['rows'], 1):,.2f} s | {ratio} | "
                       f"{_gib(r.peak_rss)} |")
    loads = [r for r in runs if r.part == "load"]
    if loads:
        out += ["", "**Concurrent clients vs server processes** (the mixed traffic of "
                "`chipao bench load`: maps, API, pages, exports; "
                + (f"warm servers: every path once per process, then {plan.settle:g} s of "
                   "unmeasured traffic" if plan.warm else "**cold** servers, not warmed")
                + "):",
                "",
                "| server processes | clients | phase | requests | throughput | p50 | p99 | "
                "errors | 5xx |", "|---|---|---|---|---|---|---|---|---|"]
        for r in loads:
            n = r.result["processes"]
            if not r.ok:
                for c in plan.clients:
                    out.append(f"| {n} | {c} | — | — | — | — | — | {_failed(r)} | — |")
                continue
            for x in r.result["rows"]:
                out.append(f"| {n} | {x['clients']} | {x['phase']} | {x['requests']:,} | "
                           f"{x['rps']:,.0f}/s | {x['p50_ms']:,.0f} ms | "
                           f"**{x['p99_ms']:,.0f} ms** | {x['error_rate']:.2%} | "
                           f"{x['n_5xx']} |")
    failed = [r for r in runs if not r.ok]
    out += ["", (f"**{len(failed)} of {len(runs)} measurements failed** (logs under "
                 f"{plan.data_dir / 'scale-logs'})." if failed
                 else f"All {len(runs)} measurements ran.")]
    return "\n".join(out) + "\n"


def _command_line() -> str:
    """This run's command with every option spelled out (what to paste to run it again)."""
    ctx = click.get_current_context()
    words = ["chipao", "bench", "scale"]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if not isinstance(param, click.Option) or value is None or param.name == "report_path":
            continue
        if param.is_flag and param.secondary_opts:
            words.append(param.opts[0] if value else param.secondary_opts[0])
        elif value not in ("", 0.0):
            words += [param.opts[0], str(value)]
    return shlex.join(words)


@click.command("scale")
@click.option("--data-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Data directory of the whole run (reused: nothing generated twice; "
                   "not inside a worktree).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the markdown report here (also printed).")
@click.option("--parts", default=",".join(PARTS), show_default=True,
              help="Which parts to run (always in this order).")
@click.option("--provinces", default="all", show_default=True,
              help="Provinces of the multi-round and one-round builds ('all' or codes).")
@click.option("--rounds", default="2561,2562,2565", show_default=True,
              help="Rounds of the multi-round build.")
@click.option("--dask-workers", default="2", show_default=True,
              help="dask worker processes to compare with one process (comma-separated).")
@click.option("--raster/--no-raster", default=True, show_default=True,
              help="One-round builds with the demo population raster (as chipao demo).")
@click.option("--ingest-rows", default="1000000,10000000", show_default=True,
              help="Rows of the synthetic exports ingested (comma-separated).")
@click.option("--clients", default="50,200", show_default=True,
              help="Concurrent clients of the load test (comma-separated).")
@click.option("--processes", default="1,2", show_default=True,
              help="Server processes of the load test (comma-separated; 2+: gunicorn).")
@click.option("--load-province", default="TH75", show_default=True,
              help="Province the load test's clients browse (one of --provinces).")
@click.option("--load-seconds", default=30.0, show_default=True, type=float,
              help="Duration of each load phase.")
@click.option("--threads", default=8, show_default=True, help="Threads per server process.")
@click.option("--uploads/--no-uploads", default=False, show_default=True,
              help="Also a load phase with uploads building in the background.")
@click.option("--warm/--cold", default=True, show_default=True,
              help="Request every path of the load mix once before measuring (--cold: the "
                   "phases start on cold servers).")
@click.option("--settle", default=15.0, show_default=True, type=float,
              help="After the warm-up, seconds of unmeasured traffic at the largest number "
                   "of clients (every server process meets the mix before the phases).")
@click.option("--redis", default="", help="Rate-limit store of 2+ server processes "
              "(redis://...); default: a throwaway redis-server started by the part.")
@click.option("--seed", default=2561, show_default=True, type=int)
@click.option("--part-timeout", default=0.0, type=float, show_default=True,
              help="End a measurement after this many seconds and report it failed "
                   "(0: no limit).")
def command(data_dir: Path, report_path: Path | None, parts: str, provinces: str,
            rounds: str, dask_workers: str, raster: bool, ingest_rows: str, clients: str,
            processes: str, load_province: str, load_seconds: float, threads: int,
            uploads: bool, warm: bool, settle: float, redis: str, seed: int,
            part_timeout: float) -> None:
    """Issue 17 item 7 in one run: multi-round national build, one process vs dask, ingest
    vs pyarrow, clients x server processes; a markdown report for docs/benchmarks.md."""
    from service.demo.panel import parse_rounds

    wanted = [p.strip() for p in parts.split(",") if p.strip()]
    if not wanted or set(wanted) - set(PARTS):
        raise click.BadParameter(f"{parts!r}: choose from {', '.join(PARTS)}",
                                 param_hint="--parts")
    codes = (None if provinces.strip().lower() == "all"
             else [c.strip().upper() for c in provinces.split(",") if c.strip()])
    province = load_province.strip().upper()
    if codes is not None and province not in codes and "load" in wanted:
        raise click.BadParameter(f"{province} is not one of --provinces {provinces}",
                                 param_hint="--load-province")
    plan = Plan(data_dir=data_dir.resolve(), provinces=codes, rounds=parse_rounds(rounds),
                seed=seed, dask_workers=_int_list(dask_workers, "--dask-workers"),
                raster=raster, ingest_rows=_int_list(ingest_rows, "--ingest-rows"),
                clients=_int_list(clients, "--clients"),
                processes=_int_list(processes, "--processes"), load_province=province,
                load_seconds=load_seconds, threads=threads, uploads=uploads, warm=warm,
                settle=settle if warm else 0.0, redis=redis, timeout=part_timeout or None)
    plan.data_dir.mkdir(parents=True, exist_ok=True)
    order = [p for p in PARTS if p in wanted]
    started, info = datetime.now(UTC), machine()

    def terminated(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # ends the running measurement's processes too

    import threading

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, terminated) if main_thread else None
    try:
        runs = run_plan(plan, order, click.echo)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    text = report(plan, order, runs, info, started, _command_line())
    if report_path is not None:
        report_path.write_text(text, encoding="utf-8")
    click.echo("\n" + text)
    failed = sum(1 for r in runs if not r.ok)
    if failed:
        raise click.ClickException(f"{failed} of {len(runs)} measurements failed "
                                   "(reported as failed above)")
