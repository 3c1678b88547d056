"""`chipao bench maps-cold`: the first map requests after a restart, with and without the
start-up warm-up (service.usecases.map_warmup), in one run.

Each mode runs in a fresh Python process over the configured store (CHIPAO_DATA_DIR): the
app is created, (warm-up mode) the background warm-up is let finish, then each map is asked
for twice: "cold" = its first request in the process, "warm" = the second. A map is the three
requests its page makes: the HTML page, the geometry and the values (server time, in-process
test client; the browser's drawing adds the same few hundred ms to both). The on-disk
geometry cache is kept between restarts, as on a server; a priming process fills it first.
The naive approach is the server without warm-up (cold = what the first person waited).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import click

CHILD = r"""
import json, sys, time
from service import create_app
from service.api.services import services
mode, cases = sys.argv[1], json.loads(sys.argv[2])
t0 = time.perf_counter()
app = create_app({"map_warmup": False, "rate_limit": ""})
created = time.perf_counter() - t0
warm_s = 0.0
if mode == "warm":
    from service.usecases import map_warmup
    t1 = time.perf_counter()
    map_warmup.warm(services(app))  # what the background thread does after start-up
    warm_s = time.perf_counter() - t1
client = app.test_client()
out = {"created_s": created, "warmup_s": warm_s, "cases": {}}
for name, urls in cases.items():
    runs = []
    for _ in range(2):
        t = time.perf_counter()
        for url in urls:
            r = client.get(url, headers={"Accept-Encoding": "gzip"})
            if r.status_code != 200:
                raise SystemExit(f"{url}: HTTP {r.status_code} {r.data[:200]!r}")
        runs.append(time.perf_counter() - t)
    out["cases"][name] = runs
print("RESULT " + json.dumps(out))
"""


def _cases(province: str, dataset: str, version: str) -> dict[str, list[str]]:
    d = f"dataset={dataset}&round={version}"
    m = "measure=target_poor_rate&round=" + version + "&classes=5&classifier=quantiles"

    def page(path: str, level: str, scope: str | None) -> list[str]:
        sq = f"scope={scope}&" if scope else ""
        geo = f"/maps/geo/{level}.geojson" + (f"?scope={scope}" if scope else "")
        if level.startswith("h3_"):
            geo += ("&" if scope else "?") + d
        return [f"{path}?level={level}", geo, f"/maps/values/{level}.json?{sq}{m}"]

    return {
        "national provinces": page("/maps/", "province", None),
        "national tambons": page("/maps/", "tambon", None),
        "national H3 r7": page("/maps/", "h3_r7", None),
        f"province {province} tambons": page(f"/maps/area/{province}", "tambon", province),
        f"province {province} public H3 r9": page(f"/maps/area/{province}", "h3_r9", province),
    }


def _run(mode: str, cases: dict[str, list[str]]) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, json.dumps(cases)],
                          capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise click.ClickException(f"{mode} run failed: {proc.stderr[-2000:]}")


@click.command("maps-cold")
@click.option("--province", default=None, help="Province page to time (default: the one "
              "with the most households).")
@click.option("--dataset", default=None, help="Dataset (default: setting default_dataset).")
def command(province: str | None, dataset: str | None) -> None:
    """Cold (first after restart) and warm map loads, with and without the warm-up."""
    from service.settings import load_settings
    from service.store import open_store

    settings = load_settings()
    dataset = dataset or settings.default_dataset
    store = open_store(settings)
    version = store.versions(dataset)[0].id  # newest
    if province is None:
        provinces = store.read_areas(dataset, "province", version=version)
        province = str(provinces.sort_values("n_households")["code"].iloc[-1])
    cases = _cases(province, dataset, version)
    t = time.perf_counter()
    _run("naive", cases)  # priming: the on-disk geometry cache a restarted server keeps
    prime = time.perf_counter() - t
    naive = _run("naive", cases)
    warm = _run("warm", cases)
    click.echo(f"dataset {dataset} version {version}; priming run {prime:.1f} s; "
               f"warm-up (background after start-up) {warm['warmup_s']:.1f} s")
    click.echo("| map (HTML + geometry + values) | no warm-up: cold | no warm-up: warm | "
               "with warm-up: cold | with warm-up: warm | cold ratio |")
    click.echo("|---|---:|---:|---:|---:|---:|")
    for name in cases:
        nc, nw = naive["cases"][name]
        wc, ww = warm["cases"][name]
        click.echo(f"| {name} | {nc:.2f} s | {nw:.2f} s | {wc:.2f} s | {ww:.2f} s | "
                   f"{nc / wc:.1f}× |")
