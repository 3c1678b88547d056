"""`chipao bench load`: N concurrent clients on the mixed traffic of the review (issue 16),
against a real server on a demo dataset, without and then with uploads running.

The server runs in its own process (``chipao serve``: waitress, settings threads) so the
load generator does not share its interpreter lock. Clients are asyncio tasks holding one
keep-alive HTTP/1.1 connection each (far cheaper than one thread per client on 2 cores), 80 %
anonymous and 20 % with a provincial token, each looping over the mixed traffic of a
province (:func:`request_mix`): map pages, their geometry and values (with a random poverty
cut-off ``k`` from the offered values), API areas, cells and rankings, workspace pages, CSV
exports.

Two phases on the same warm server: ``upload-free``, then ``with uploads``, where a national
user keeps uploading a new round of another dataset (one amphoe's persons) as background
jobs (``Prefer: respond-async``, polled until done), so a build is running all the time.

Reported (a markdown table per run): requests, throughput, p50/p95/p99/max latency, error
rate (non-2xx) and 5xx count, per phase, and p50/p99 per traffic family (maps, API, pages,
exports), and the uploads done during the second phase. Baselines (``--server``):
``waitress-uncached`` (the naive API: no response-body cache, rows converted to JSON cell by
cell) and ``werkzeug`` (Flask's threaded development server). All clients share one
address, so the per-client rate limit is raised for the run (it would otherwise answer 429
to the whole crowd).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

log = logging.getLogger(__name__)

#: a request slower than this counts as an error (and its connection is replaced)
REQUEST_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(data_dir: Path, province: str, seed: int) -> dict:
    """Build the demo dataset (once per data_dir), a provincial and a national API token and
    the file the uploader sends (the persons of the province's first amphoe)."""
    from service.settings import load_settings

    settings = load_settings({"data_dir": str(data_dir)})
    from service.store import open_store

    store = open_store(settings)
    src = data_dir / "demo-source"
    if "demo" not in store.datasets():
        from service.demo.generate import generate
        from service.pipeline import build_version

        generate([province], seed=seed, out=src)
        build_version(settings, dataset="demo", round=2561, persons_dir=src, progress=False)
    from service.store.users import UserStore

    users = UserStore(settings.database_url)
    existing = {u.username for u in users.list_users()}
    tokens = {}
    for name, role, prov in ((f"bench_{province.lower()}", "provincial", province),
                             ("bench_national", "national", None)):
        if name not in existing:
            users.create_user(name, None, role, prov)
        tokens[role] = users.create_token(name, "bench load")[0]
    areas = store.read_areas("demo", "amphoe", province=province)
    tambons = store.read_areas("demo", "tambon", province=province)
    cells = store.read_areas("demo", "h3_r7", province=province,
                             columns=["code", "n_hh_present"])
    # cells the public sees (a suppressed cell answers 404 by design): the most populous
    cells = cells.sort_values("n_hh_present", ascending=False, kind="stable")
    return {"settings": settings, "token": tokens["provincial"],
            "national_token": tokens["national"], "amphoes": list(areas["code"]),
            "tambons": list(tambons["code"]), "cells": list(cells["code"])[:20],
            "upload": _upload_file(data_dir, str(areas["code"].iloc[0]), seed)}


def _upload_file(data_dir: Path, amphoe: str, seed: int) -> Path:
    """Persons of one amphoe as the Parquet file the uploader sends (made once)."""
    path = data_dir / f"upload-{amphoe}.parquet"
    if not path.exists():
        import polars as pl

        from service.demo.generate import generate

        out = data_dir / "upload-source"
        generate([amphoe[:4]], seed=seed + 1, out=out, amphoes=[amphoe])
        frames = [pl.read_parquet(f) for f in sorted((out / "persons").glob("*.parquet"))]
        pl.concat(frames, how="diagonal_relaxed").write_parquet(path)
    return path


#: traffic families of the review's mix: maps (pages, geometry, values), API, pages, exports
FAMILIES = ("maps", "api", "pages", "exports")


def request_mix(province: str, amphoes: list[str], cells: list[str],
                tambons: list[str] | None = None) -> list[tuple[str, str]]:
    """(family, path) of the mixed traffic of one province; ``{k}`` in a path is replaced by
    a random offered poverty cut-off at each request."""
    amphoe = amphoes[0]
    tambon = (tambons or [f"{amphoe}01"])[0]
    values = "measure=m0&classes=5&classifier=quantiles"
    mix = [
        # maps: pages, geometry, values (k from the offered values)
        ("maps", f"/maps/area/{province}"),
        ("maps", f"/maps/area/{province}?level=tambon"),
        ("maps", f"/maps/area/{amphoe}"),
        ("maps", f"/maps/geo/amphoe.geojson?scope={province}"),
        ("maps", f"/maps/geo/tambon.geojson?scope={province}"),
        ("maps", f"/maps/geo/h3_r7.geojson?scope={province}&dataset=demo"),
        ("maps", f"/maps/values/tambon.json?scope={province}&{values}&k={{k}}"),
        ("maps", f"/maps/values/amphoe.json?scope={province}&{values}&k={{k}}"),
        ("maps", f"/maps/values/tambon.json?scope={amphoe}&measure=h&k={{k}}"),
        ("maps", f"/maps/values/h3_r8.json?scope={province}&{values}"),
        ("maps", f"/maps/values/province.json?{values}"),
        # API: areas, cells, rankings, KPI
        ("api", f"/api/v1/areas/tambon?province={province}"),
        ("api", f"/api/v1/areas/village?province={province}&limit=5000"),
        ("api", f"/api/v1/cells?resolution=8&province={province}&limit=5000"),
        ("api", f"/api/v1/areas/province/{province}/kpi"),
        ("api", f"/api/v1/areas/province/{province}/coverage"),
        ("api", "/api/v1/areas/province"),
        ("api", f"/api/v1/rankings?level=tambon&province={province}&limit=100"),
        ("api", f"/api/v1/areas/tambon/{tambon}"),
        # workspace pages
        ("pages", f"/areas/{province}"),
        ("pages", f"/areas/{amphoe}"),
        ("pages", f"/ranking?area={province}&level=tambon"),
        ("pages", f"/kpi?province={province}"),
        ("pages", "/"),
        # CSV exports
        ("exports", f"/api/v1/exports/areas/tambon.csv?dataset=demo&province={province}"),
        ("exports", f"/api/v1/exports/areas/amphoe.csv?dataset=demo&province={province}"),
        ("exports", f"/api/v1/exports/areas/village.csv?dataset=demo&province={province}"),
    ]
    mix += [("api", f"/api/v1/areas/amphoe/{a}") for a in amphoes[:3]]
    mix += [("api", f"/api/v1/cells/{c}") for c in cells[:3]]
    return mix


def _expand(path: str, rng: random.Random) -> str:
    if "{k}" not in path:
        return path
    from service.render.map_page import K_CHOICES

    return path.replace("{k}", f"{rng.choice(K_CHOICES):g}")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int, bool]:
    """(status, body bytes, server closes the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, status = lines[0].split(" ", 2)[:2]
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (ln.partition(":") for ln in lines[1:] if ln)}
    close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
        return int(status), len(body), close
    if headers.get("transfer-encoding", "").lower() == "chunked":
        total = 0
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return int(status), total, close
            await reader.readexactly(size + 2)
            total += size
    return int(status), len(await reader.read()), True


async def _client(port: int, paths: list[tuple[str, str]], token: str | None,
                  deadline: float, out: list[tuple[float, int, str, str]],
                  rng: random.Random) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    try:
        while time.perf_counter() < deadline:
            family, template = rng.choice(paths)
            path = _expand(template, rng)
            t0 = time.perf_counter()
            writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
                          "Accept-Encoding: identity\r\n\r\n").encode("ascii"))
            await writer.drain()
            try:
                status, _, close = await asyncio.wait_for(_read_response(reader),
                                                          REQUEST_TIMEOUT_S)
            except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                out.append((time.perf_counter() - t0, 599, family, template))  # an error
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            out.append((time.perf_counter() - t0, status, family, template))
            if status >= 400:
                log.warning("load: %s answered %d", path, status)
            if close:  # server ended the keep-alive connection (HTTP/1.0 style)
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def _run(port: int, paths: list[tuple[str, str]], token: str, clients: int,
               seconds: float) -> list[tuple[float, int, str, str]]:
    results: list[tuple[float, int, str, str]] = []
    deadline = time.perf_counter() + seconds
    tasks = [
        _client(port, paths, token if i % 5 == 0 else None, deadline, results,
                random.Random(i))
        for i in range(clients)
    ]
    await asyncio.gather(*tasks)
    return results


def _warm(port: int, paths: list[tuple[str, str]], token: str) -> None:
    """Every path once (each offered k), anonymous and provincial, as a running server
    would have answered them before: the measured phases start warm."""
    from service.render.map_page import K_CHOICES

    for _, template in paths:
        for k in (K_CHOICES if "{k}" in template else [None]):
            path = template.replace("{k}", f"{k:g}") if k is not None else template
            for auth in ({}, {"Authorization": f"Bearer {token}"}):
                req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=auth)
                try:
                    with urllib.request.urlopen(req, timeout=120) as r:
                        r.read()
                except OSError as exc:
                    log.warning("warm-up: %s: %s", path, exc)


class Uploader(threading.Thread):
    """A national user uploading a new round of another dataset again and again as a
    background job (``Prefer: respond-async``), polling each job until it ends."""

    def __init__(self, port: int, token: str, path: Path, *, dataset: str = "bench-uploads",
                 first_round: int = 2561) -> None:
        super().__init__(daemon=True)
        self.port, self.token, self.path, self.dataset = port, token, path, dataset
        self.round = first_round
        self.stop = threading.Event()
        self.started = 0
        self.done: list[float] = []      # seconds from upload to finished job
        self.failed: list[str] = []

    def _request(self, method: str, path: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, dict]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body,
                                     method=method, headers={
                                         "Authorization": f"Bearer {self.token}",
                                         **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=600) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def _content(self) -> bytes:
        """The file with one person's age changed per upload: a new source each time, so
        each upload builds a version (the same bytes would answer "already stored")."""
        import io

        import polars as pl

        frame = pl.read_parquet(self.path)
        i = self.round % frame.height
        age = pl.Series("age", frame["age"]).cast(pl.Int64)
        frame = frame.with_columns(age.scatter(i, (int(age[i] or 0) + 1) % 100)
                                   .cast(frame.schema["age"]))
        buf = io.BytesIO()
        frame.write_parquet(buf)
        return buf.getvalue()

    def upload_once(self) -> None:
        boundary = f"chipao{random.getrandbits(64):x}"
        content = self._content()
        body = b"".join([
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"round\"\r\n\r\n"
            f"{self.round}\r\n".encode(),
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{self.path.name}\"\r\nContent-Type: application/octet-stream"
            "\r\n\r\n".encode(), content, f"\r\n--{boundary}--\r\n".encode()])
        self.round += 1
        self.started += 1
        t0 = time.perf_counter()
        status, answer = self._request(
            "POST", f"/api/v1/datasets/{self.dataset}/uploads", body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}",
             "Prefer": "respond-async"})
        job = answer.get("job")
        while status == 202 and job and not self.stop.is_set():
            time.sleep(0.5)
            status, answer = self._request("GET", f"/api/v1/jobs/{job}")
            if status == 200 and answer.get("status") in ("done", "failed"):
                status = 201 if answer["status"] == "done" else 500
                break
            status = 202 if status == 200 else status
        if status == 201:
            self.done.append(time.perf_counter() - t0)
        elif status != 202:  # 202: stopped while the job still runs
            self.failed.append(f"{status}: {str(answer)[:200]}")

    def run(self) -> None:
        while not self.stop.is_set():
            self.upload_once()


def _wait_ready(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise click.ClickException(f"server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise click.ClickException("server did not start in time")


_UNCACHED = (
    # the naive API: no response-body cache, rows converted cell by cell in Python
    "import service.api.datasets as d, service.api.areas as a, service.api.cells as c\n"
    "d.RESPONSE_CACHE_BYTES = 0\n"
    # no page-view cache: every page computed on every call
    "import service.api.page_cache as pc\n"
    "pc.CACHED.clear()\n"
    # nor the public rows of a province (disclosure control + perturbation every time)
    "import service.access.views as views\n"
    "class NoCache:\n"
    "    def get_or_build(self, key, build):\n"
    "        return build()\n"
    "views._PROVINCE_ROWS = NoCache()\n"
    "def slow(frame, *, drop=('cell', 'geometry')):\n"
    "    cols = [k for k in frame.columns if k not in drop]\n"
    "    return [{k: d._json_value(v) for k, v in zip(cols, row)}\n"
    "            for row in frame[cols].itertuples(index=False, name=None)]\n"
    "d.records = a.records = c.records = slow\n"
)
SERVER_CODE = {
    "waitress": "from service.commands.serve import command; command()",
    "waitress-uncached": _UNCACHED + "from service.commands.serve import command; command()",
    # several processes (gunicorn) sharing a Redis rate-limit store: --redis
    "gunicorn-2": "from service.commands.serve import command; command(['--workers', '2'])",
    # builds in the job thread of the web process (job_process off): what uploads cost then
    "waitress-job-thread": "from service.commands.serve import command; command()",
    "werkzeug": ("from service import create_app; import os; "
                 "create_app().run(host='127.0.0.1', port=int(os.environ['CHIPAO_PORT']), "
                 "threaded=True)"),
}


#: extra environment of a server
SERVER_ENV = {"waitress-job-thread": {"CHIPAO_JOB_PROCESS": "off"}}
#: server processes of each server
PROCESSES = {"gunicorn-2": 2}


def server_code(server: str) -> str:
    """The Python code that runs ``server``: a name of :data:`SERVER_CODE`, or
    ``gunicorn-N`` (``chipao serve --workers N``)."""
    if server in SERVER_CODE:
        return SERVER_CODE[server]
    n = server_processes(server)
    return f"from service.commands.serve import command; command(['--workers', '{n}'])"


def server_processes(server: str) -> int:
    if server in PROCESSES or server in SERVER_CODE:
        return PROCESSES.get(server, 1)
    name, _, n = server.partition("-")
    if name != "gunicorn" or not n.isdigit() or int(n) < 1:
        raise click.UsageError(f"unknown server {server!r}")
    return int(n)


def _summary(results: list[tuple[float, int, str, str]], elapsed: float) -> dict:
    n = len(results)
    if n == 0:
        raise click.ClickException("no request completed")
    lat = sorted(r[0] for r in results)
    codes = [r[1] for r in results]
    families = {}
    for family in FAMILIES:
        mine = sorted(r[0] for r in results if r[2] == family)
        if mine:
            families[family] = {"requests": len(mine), "p50_ms": _pct(mine, 50) * 1000,
                                "p99_ms": _pct(mine, 99) * 1000,
                                "errors": sum(1 for r in results
                                              if r[2] == family and not 200 <= r[1] < 300)}
    by_path: dict[str, list[float]] = {}
    for r in results:
        by_path.setdefault(r[3], []).append(r[0])
    slowest = sorted(((statistics.fmean(v) * 1000, p) for p, v in by_path.items()),
                     reverse=True)[:6]
    return {
        "seconds": round(elapsed, 1), "requests": n, "rps": n / elapsed,
        "slowest_mean_ms": {p: round(ms) for ms, p in slowest},
        "p50_ms": _pct(lat, 50) * 1000, "p95_ms": _pct(lat, 95) * 1000,
        "p99_ms": _pct(lat, 99) * 1000, "max_ms": lat[-1] * 1000,
        "mean_ms": statistics.fmean(lat) * 1000,
        "error_rate": sum(1 for c in codes if not 200 <= c < 300) / n,
        "n_5xx": sum(1 for c in codes if c >= 500),
        "statuses": {str(c): codes.count(c) for c in sorted(set(codes))},
        "families": families,
    }


def _pct(lat: list[float], p: float) -> float:
    return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]


def run_load(data_dir: Path, *, province: str, clients: int | Sequence[int], seconds: float,
             threads: int, server: str, seed: int, uploads: bool = True,
             redis: str = "", warm: bool = True, settle: float = 0.0) -> list[dict]:
    """One server, warmed once (``warm``: every path of the mix requested before measuring;
    off: the phases start cold; ``settle`` > 0: then that many seconds of the largest number
    of clients, not measured, so every process of a several-process server has met the mix);
    for each number of ``clients``: the upload-free phase, then
    (``uploads``) the phase with uploads running; one summary per phase."""
    info = prepare(data_dir, province, seed)
    counts = [clients] if isinstance(clients, int) else list(clients)
    port = _free_port()
    env = {**os.environ, "CHIPAO_DATA_DIR": str(data_dir), "CHIPAO_PORT": str(port),
           "CHIPAO_THREADS": str(threads), "CHIPAO_RATE_LIMIT": "10000000 per minute",
           "CHIPAO_LOG_LEVEL": "WARNING", "CHIPAO_SECRET_KEY": "bench",
           **SERVER_ENV.get(server, {})}
    if server.startswith("gunicorn"):
        if not redis:
            raise click.UsageError(f"{server} needs --redis redis://HOST:PORT/DB")
        env["CHIPAO_RATE_LIMIT_STORAGE_URI"] = redis
    # the server's output goes to a file: an unread pipe would fill up and stall the server
    server_log = open(data_dir / f"server-{server}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-c", server_code(server)], env=env,
                            stdout=server_log, stderr=subprocess.STDOUT)
    processes = server_processes(server)
    out = []
    try:
        _wait_ready(port, proc)
        paths = request_mix(province, info["amphoes"], info["cells"], info["tambons"])
        for _ in range(processes if warm else 0):  # each process answers some of it
            _warm(port, paths, info["token"])
        if settle > 0:
            asyncio.run(_run(port, paths, info["token"], max(counts), settle))
        first_round = _next_round(info["settings"])
        for n in counts:
            base = {"server": server, "processes": processes, "threads": threads,
                    "clients": n}
            t0 = time.perf_counter()
            results = asyncio.run(_run(port, paths, info["token"], n, seconds))
            out.append({**base, "phase": "upload-free",
                        **_summary(results, time.perf_counter() - t0)})
            if not uploads:
                continue
            uploader = Uploader(port, info["national_token"], info["upload"],
                                first_round=first_round)
            uploader.start()
            time.sleep(2.0)  # the build is under way
            t0 = time.perf_counter()
            results = asyncio.run(_run(port, paths, info["token"], n, seconds))
            elapsed = time.perf_counter() - t0
            uploader.stop.set()
            uploader.join(timeout=600)
            first_round = uploader.round
            out.append({**base, "phase": "with uploads", **_summary(results, elapsed),
                        "uploads_started": uploader.started,
                        "uploads_done": len(uploader.done), "uploads_failed": uploader.failed,
                        "upload_s": (statistics.fmean(uploader.done) if uploader.done
                                     else None)})
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        server_log.close()
    return out


def _next_round(settings: Any) -> int:
    """The first round the uploader sends: after every round stored by earlier runs (the
    same round and bytes again would answer "already stored" without a build)."""
    from service.store import open_store

    store = open_store(settings)
    if "bench-uploads" not in store.datasets():
        return 2561
    return max(v.round for v in store.versions("bench-uploads", superseded=True)) + 1


def markdown_row(r: dict) -> str:
    uploads = ""
    if r["phase"] == "with uploads":
        uploads = (f" ({r['uploads_started']} uploads started, {r['uploads_done']} done, "
                   f"{len(r['uploads_failed'])} failed)")
    return (f"| {r['server']} ({r['processes']} × {r['threads']} threads) | {r['phase']}{uploads} | "
            f"{r['clients']} | {r['requests']:,} | {r['rps']:,.0f}/s | {r['p50_ms']:,.0f} ms | "
            f"{r['p95_ms']:,.0f} ms | **{r['p99_ms']:,.0f} ms** | {r['max_ms']:,.0f} ms | "
            f"{r['error_rate']:.2%} | {r['n_5xx']} |")


def family_rows(r: dict) -> list[str]:
    return [f"| {r['server']} | {r['clients']} | {r['phase']} | {family} | {f['requests']:,} | "
            f"{f['p50_ms']:,.0f} ms | {f['p99_ms']:,.0f} ms | {f['errors']} |"
            for family, f in r["families"].items()]


@click.command("load")
@click.option("--clients", "clients", multiple=True, type=int, default=(50,),
              show_default=True,
              help="Concurrent clients; repeat for several runs against each server "
                   "(--clients 50 --clients 200).")
@click.option("--seconds", default=30.0, show_default=True, help="Duration of each phase.")
@click.option("--province", default="TH75", show_default=True,
              help="Province of the demo dataset the clients browse (built by the bench).")
@click.option("--threads", default=8, show_default=True, help="Server worker threads.")
@click.option("--server", "servers", multiple=True,
              type=click.Choice(sorted(SERVER_CODE)), default=("waitress",),
              show_default=True,
              help="Server(s): waitress (chipao serve), waitress-uncached (naive API: no "
                   "response cache, per-cell JSON conversion), werkzeug (dev server), "
                   "gunicorn-2 (2 processes, needs --redis), waitress-job-thread (builds in "
                   "the web process's job thread, job_process off).")
@click.option("--uploads/--no-uploads", default=True, show_default=True,
              help="Also run the phase with uploads running as background jobs.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Reuse this data directory (default: a temporary one).")
@click.option("--seed", default=2561, show_default=True)
@click.option("--redis", default="", help="Rate-limit store of gunicorn-2 (redis://...).")
def command(clients: tuple[int, ...], seconds: float, province: str, threads: int, servers: tuple[str, ...],
            uploads: bool, data_dir: str | None, seed: int, redis: str) -> None:
    """Load test on the mixed traffic (maps, API, pages, exports, random k), without and
    with uploads running: p50/p99 latency and error rate (markdown tables)."""
    with tempfile.TemporaryDirectory(prefix="chipao-load-") as tmp:
        root = Path(data_dir) if data_dir else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        click.echo(f"load test: {'/'.join(map(str, clients))} clients x {seconds:.0f} s per "
                   f"phase, province "
                   f"{province}, os cpus {os.cpu_count()}, load average "
                   f"{os.getloadavg()[0]:.1f}")
        rows = []
        for server in servers:
            rows += run_load(root, province=province, clients=clients, seconds=seconds,
                             threads=threads, server=server, seed=seed, uploads=uploads,
                             redis=redis)
        click.echo("\n| server | phase | clients | requests | throughput | p50 | p95 | p99 | "
                   "max | error rate | 5xx |")
        click.echo("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            click.echo(markdown_row(r))
            log.info("load %s", json.dumps(r))
        click.echo("\n| server | clients | phase | traffic | requests | p50 | p99 | errors |")
        click.echo("|---|---|---|---|---|---|---|---|")
        for r in rows:
            for line in family_rows(r):
                click.echo(line)
        for r in rows:
            for failure in r.get("uploads_failed") or []:
                click.echo(f"upload failed: {failure}")
