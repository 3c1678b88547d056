"""`chipao bench load`: N concurrent API clients against a real server on a demo dataset.

The server runs in its own process (``chipao serve``: waitress, settings threads) so the
load generator does not share its interpreter lock. Clients are asyncio tasks holding one
keep-alive HTTP/1.1 connection each (far cheaper than one thread per client on 2 cores), each
looping over a map client's request mix (tambon and village tables of a province, an amphoe
with its children, H3 cells, KPI, coverage), 80 % anonymous and 20 % with a provincial token.

Reported: requests, throughput, p50/p95/p99/max latency, error rate (non-2xx) and 5xx count.
Baselines in the same run: ``waitress-uncached`` (the naive API: no response-body cache, rows
converted to JSON cell by cell) and ``werkzeug`` (Flask's threaded development server). All clients share one address, so the per-client rate limit is raised for the run
(it would otherwise answer 429 to the whole crowd).
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
import time
import urllib.request
from pathlib import Path

import click

log = logging.getLogger(__name__)

#: a request slower than this counts as an error (and its connection is replaced)
REQUEST_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(data_dir: Path, province: str, seed: int) -> dict:
    """Build the demo dataset (once per data_dir) and a provincial API token."""
    from service.settings import load_settings

    settings = load_settings({"data_dir": str(data_dir)})
    from service.store import open_store

    store = open_store(settings)
    if "demo" not in store.datasets():
        from service.demo.generate import generate
        from service.pipeline import build_version

        src = data_dir / "demo-source"
        generate([province], seed=seed, out=src)
        build_version(settings, dataset="demo", round=2561, persons_dir=src, progress=False)
    from service.store.users import UserStore

    users = UserStore(settings.database_url)
    name = f"bench_{province.lower()}"
    if name not in {u.username for u in users.list_users()}:
        users.create_user(name, None, "provincial", province)
    token, _ = users.create_token(name, "bench load")
    areas = store.read_areas("demo", "amphoe", province=province)
    cells = store.read_areas("demo", "h3_r7", province=province)
    return {"settings": settings, "token": token, "amphoes": list(areas["code"]),
            "cells": list(cells["code"])[:20]}


def request_mix(province: str, amphoes: list[str], cells: list[str]) -> list[str]:
    mix = [
        f"/api/v1/areas/tambon?province={province}",
        f"/api/v1/areas/village?province={province}&limit=5000",
        f"/api/v1/cells?resolution=8&province={province}&limit=5000",
        f"/api/v1/areas/province/{province}/kpi",
        f"/api/v1/areas/province/{province}/coverage",
        "/api/v1/areas/province",
    ]
    mix += [f"/api/v1/areas/amphoe/{a}" for a in amphoes[:5]]
    mix += [f"/api/v1/cells/{c}" for c in cells[:5]]
    return mix


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


async def _client(port: int, paths: list[str], token: str | None, deadline: float,
                  out: list[tuple[float, int]], rng: random.Random) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    try:
        while time.perf_counter() < deadline:
            path = rng.choice(paths)
            t0 = time.perf_counter()
            writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
                          "Accept-Encoding: identity\r\n\r\n").encode("ascii"))
            await writer.drain()
            try:
                status, _, close = await asyncio.wait_for(_read_response(reader),
                                                          REQUEST_TIMEOUT_S)
            except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                out.append((time.perf_counter() - t0, 599))  # counted as an error
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            out.append((time.perf_counter() - t0, status))
            if close:  # server ended the keep-alive connection (HTTP/1.0 style)
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def _run(port: int, paths: list[str], token: str, clients: int, seconds: float,
               ) -> list[tuple[float, int]]:
    results: list[tuple[float, int]] = []
    deadline = time.perf_counter() + seconds
    tasks = [
        _client(port, paths, token if i % 5 == 0 else None, deadline, results,
                random.Random(i))
        for i in range(clients)
    ]
    await asyncio.gather(*tasks)
    return results


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
    "werkzeug": ("from service import create_app; import os; "
                 "create_app().run(host='127.0.0.1', port=int(os.environ['CHIPAO_PORT']), "
                 "threaded=True)"),
}


def run_load(data_dir: Path, *, province: str, clients: int, seconds: float, threads: int,
             server: str, seed: int, warmup: float = 3.0, redis: str = "") -> dict:
    info = prepare(data_dir, province, seed)
    port = _free_port()
    env = {**os.environ, "CHIPAO_DATA_DIR": str(data_dir), "CHIPAO_PORT": str(port),
           "CHIPAO_THREADS": str(threads), "CHIPAO_RATE_LIMIT": "10000000 per minute",
           "CHIPAO_LOG_LEVEL": "WARNING", "CHIPAO_SECRET_KEY": "bench"}
    if server.startswith("gunicorn"):
        if not redis:
            raise click.UsageError("gunicorn-2 needs --redis redis://HOST:PORT/DB")
        env["CHIPAO_RATE_LIMIT_STORAGE_URI"] = redis
    # the server's output goes to a file: an unread pipe would fill up and stall the server
    server_log = open(data_dir / f"server-{server}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-c", SERVER_CODE[server]], env=env,
                            stdout=server_log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(port, proc)
        paths = request_mix(province, info["amphoes"], info["cells"])
        # warm-up fills the store and public-view caches, as a running server would have
        asyncio.run(_run(port, paths, info["token"], min(clients, 4), warmup))
        t0 = time.perf_counter()
        results = asyncio.run(_run(port, paths, info["token"], clients, seconds))
        elapsed = time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        server_log.close()
    lat = sorted(r[0] for r in results)
    codes = [r[1] for r in results]
    n = len(lat)
    if n == 0:
        raise click.ClickException("no request completed")

    def pct(p: float) -> float:
        return lat[min(n - 1, int(round(p / 100 * (n - 1))))]

    return {
        "server": server, "threads": threads, "clients": clients, "seconds": round(elapsed, 1),
        "requests": n, "rps": n / elapsed,
        "p50_ms": pct(50) * 1000, "p95_ms": pct(95) * 1000, "p99_ms": pct(99) * 1000,
        "max_ms": lat[-1] * 1000, "mean_ms": statistics.fmean(lat) * 1000,
        "error_rate": sum(1 for c in codes if not 200 <= c < 300) / n,
        "n_5xx": sum(1 for c in codes if c >= 500),
        "statuses": {str(c): codes.count(c) for c in sorted(set(codes))},
    }


def markdown_row(r: dict) -> str:
    return (f"| {r['server']} ({r['threads']} threads) | {r['clients']} | {r['requests']:,} | "
            f"{r['rps']:,.0f}/s | {r['p50_ms']:,.0f} ms | {r['p95_ms']:,.0f} ms | "
            f"**{r['p99_ms']:,.0f} ms** | {r['max_ms']:,.0f} ms | {r['error_rate']:.2%} | "
            f"{r['n_5xx']} |")


@click.command("load")
@click.option("--clients", default=50, show_default=True, help="Concurrent clients.")
@click.option("--seconds", default=30.0, show_default=True, help="Duration of the run.")
@click.option("--province", default="TH75", show_default=True,
              help="Province of the demo dataset the clients browse.")
@click.option("--threads", default=8, show_default=True, help="Server worker threads.")
@click.option("--server", "servers", multiple=True,
              type=click.Choice(sorted(SERVER_CODE)),
              default=("waitress", "waitress-uncached", "werkzeug"), show_default=True,
              help="Server(s): waitress (chipao serve), waitress-uncached (naive API: no "
                   "response cache, per-cell JSON conversion), werkzeug (dev server).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Reuse this data directory (default: a temporary one).")
@click.option("--seed", default=2561, show_default=True)
@click.option("--redis", default="", help="Rate-limit store of gunicorn-2 (redis://...).")
def command(clients: int, seconds: float, province: str, threads: int, servers: tuple[str, ...],
            data_dir: str | None, seed: int, redis: str) -> None:
    """Load test: p50/p99 latency and error rate of the API under concurrent clients."""
    with tempfile.TemporaryDirectory(prefix="chipao-load-") as tmp:
        root = Path(data_dir) if data_dir else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        click.echo(f"load test: {clients} clients x {seconds:.0f} s, province {province}, "
                   f"os cpus {os.cpu_count()}")
        click.echo("| server | clients | requests | throughput | p50 | p95 | p99 | max | "
                   "error rate | 5xx |")
        click.echo("|---|---|---|---|---|---|---|---|---|---|")
        for server in servers:
            r = run_load(root, province=province, clients=clients, seconds=seconds,
                         threads=threads, server=server, seed=seed, redis=redis)
            click.echo(markdown_row(r))
            log.info("load %s", json.dumps(r))
