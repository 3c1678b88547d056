"""`chipao bench maps-cold`: the first map requests after a restart, on demand and from the
version's map artefacts (service.render.artefacts), with and without the start-up warm-up
(service.usecases.map_warmup), in one run.

Each mode runs in a fresh Python process over the configured store (CHIPAO_DATA_DIR): the
app is created, then each map is asked for twice: "cold" = its first request in the process,
"warm" = the second. A map is the three requests its page makes: the HTML page, the geometry
and the values (server time, in-process test client; the browser's drawing adds the same few
hundred ms to both). Modes:

* ``build``: ``map_warmup.build`` for the national maps and the timed province (what
  ``chipao maps warm`` does for every province), timed; it also fills the on-disk geometry
  cache a restarted server keeps;
* ``naive``: on demand, artefacts neither read nor written (the naive approach: the server
  before the artefacts; cold = what the first person waited);
* ``artefacts``: a restart over the built artefacts, no warm-up;
* ``warm``: the same after the start-up warm-up has finished (``map_warmup.warm``: prepare
  the process, then build what is missing: here nothing; narrowed to the timed province, so
  a store whose other provinces are not built yet is not built here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click

CHILD = r"""
import json, sys, time
from service import create_app
from service.api.services import services
mode, cases, province, version = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
t0 = time.perf_counter()
app = create_app({"map_warmup": False, "rate_limit": ""})
created = time.perf_counter() - t0
s = services(app)
warm_s = 0.0
from service.usecases import map_warmup
if mode == "naive":  # on demand: no artefacts read or written
    from service.access.views import new_view_cache
    s.artefacts, s.views = None, new_view_cache()
t1 = time.perf_counter()
if mode == "build":
    map_warmup.prepare(s)
    map_warmup.build(s, version=version, provinces=[province])
    print("RESULT " + json.dumps({"build_s": time.perf_counter() - t1}))
    raise SystemExit(0)
if mode == "warm":  # what the background thread does after start-up (map_warmup.warm),
    # its build narrowed to the timed province (the same when every province is built)
    map_warmup.prepare(s)
    map_warmup.build(s, version=version, provinces=[province])
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


def _run(mode: str, cases: dict[str, list[str]], province: str, version: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, json.dumps(cases), province,
                           version],
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
    build = _run("build", cases, province, version)
    click.echo(f"built: {build}")
    naive = _run("naive", cases, province, version)
    click.echo(f"on demand: {naive}")
    artefacts = _run("artefacts", cases, province, version)
    click.echo(f"artefacts: {artefacts}")
    warm = _run("warm", cases, province, version)
    load = os.getloadavg()
    click.echo(f"dataset {dataset} version {version}; artefacts of the national maps and "
               f"{province} built in {build['build_s']:.1f} s; start-up warm-up over them "
               f"{warm['warmup_s']:.1f} s; load average {load[0]:.1f} {load[1]:.1f} "
               f"{load[2]:.1f} ({os.cpu_count()} cores)")
    click.echo("| map (HTML + geometry + values) | on demand: cold | on demand: warm | "
               "artefacts: cold | artefacts + warm-up: cold | artefacts + warm-up: warm | "
               "cold ratio |")
    click.echo("|---|---:|---:|---:|---:|---:|---:|")
    for name in cases:
        nc, nw = naive["cases"][name]
        ac, _aw = artefacts["cases"][name]
        wc, ww = warm["cases"][name]
        click.echo(f"| {name} | {nc:.2f} s | {nw:.2f} s | {ac:.2f} s | {wc:.2f} s | "
                   f"{ww:.2f} s | {nc / wc:.0f}× |")
