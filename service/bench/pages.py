"""`chipao bench pages`: server time of the workspace pages and their exports, and the XLSX
writer against the naive one, measured in the same run.

* every page (profile, ranking, selection, lists, KPI) loaded ``--loads`` times through the
  WSGI app (server time: routing, data, use case, template), p50 and max;
* every export (XLSX/CSV) once more, with its size;
* a household list of ``--households`` rows (the household roster of the data, repeated up to
  that size) written by :func:`service.export.xlsx.workbook` (xlsxwriter, constant memory,
  Thai headers, definitions, metadata) against the generic openpyxl writer
  (:func:`service.export.formats.to_xlsx`, one header row, no formats).

Runs on the configured store (``CHIPAO_DATA_DIR``, e.g. the national demo) or, with
``--build``, on a store built in a temporary directory from demo persons of ``--province``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import click


def _time(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _pages(province: str, amphoe: str, tambon: str, village: str) -> list[tuple[str, str]]:
    return [
        ("profile country", "/areas/"),
        (f"profile province {province}", f"/areas/{province}"),
        (f"profile amphoe {amphoe}", f"/areas/{amphoe}"),
        (f"profile tambon {tambon}", f"/areas/{tambon}"),
        (f"profile village {village}", f"/areas/{village}"),
        ("ranking provinces", "/ranking?area=TH"),
        (f"ranking tambons {province}", f"/ranking?area={province}&level=tambon"),
        (f"ranking villages {amphoe} + bootstrap 50",
         f"/ranking?area={amphoe}&level=village&bootstrap=50"),
        (f"selection {province} 20 M THB per amphoe",
         f"/selection?province={province}&budget=20000000&per_amphoe=1"),
        (f"village list {amphoe}", f"/lists?area={amphoe}"),
        (f"household list {amphoe}", f"/lists/households?area={amphoe}"),
        (f"exclusion list elderly {amphoe}",
         f"/lists/excluded?area={amphoe}&programme=elderly_allowance"),
        (f"KPI {province}", f"/kpi?province={province}"),
    ]


def _exports(province: str, amphoe: str) -> list[tuple[str, str]]:
    return [
        (f"village list {amphoe} XLSX", f"/lists/villages.xlsx?area={amphoe}"),
        (f"household list {amphoe} XLSX", f"/lists/households.xlsx?area={amphoe}"),
        (f"household list {province} XLSX", f"/lists/households.xlsx?area={province}"),
        (f"exclusion list elderly {province} XLSX",
         f"/lists/excluded.xlsx?area={province}&programme=elderly_allowance"),
        (f"selection {province} XLSX",
         f"/selection.xlsx?province={province}&budget=20000000&per_amphoe=1"),
        (f"KPI {province} XLSX", f"/kpi.xlsx?province={province}"),
    ]


@click.command("pages")
@click.option("--province", default="TH58", show_default=True)
@click.option("--loads", default=20, show_default=True, type=int, help="Loads per page.")
@click.option("--households", default=40_000, show_default=True, type=int,
              help="Rows of the household list written by both XLSX writers.")
@click.option("--build", is_flag=True,
              help="Build a store of --province demo persons in a temporary directory.")
def command(province: str, loads: int, households: int, build: bool) -> None:
    """Page load times (p50 over --loads) and export times; XLSX writer vs openpyxl."""
    import pandas as pd

    from service import create_app
    from service.api.auth import user_store

    tmp = tempfile.TemporaryDirectory(prefix="chipao-bench-pages-") if build else None
    overrides = {"rate_limit": "", "testing": True}
    if tmp is not None:
        overrides["data_dir"] = tmp.name
    app = create_app(overrides)
    settings = app.config["CHIPAO"]
    if tmp is not None:
        from service.demo.generate import generate
        from service.pipeline import build_version

        out = Path(tmp.name) / "persons"
        t = time.perf_counter()
        generate([province], seed=2561, out=out)
        build_version(settings, dataset=settings.default_dataset, round=2561,
                      progress=False, persons_dir=out)
        click.echo(f"built {province} demo store in {time.perf_counter() - t:.1f} s")
    users = user_store(app)
    name = "bench-pages-national"
    if name not in {u.username for u in users.list_users()}:
        users.create_user(name, "bench pages password", "national", None)
    token, _ = users.create_token(name)
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/html"}
    client = app.test_client()
    from service.store import open_store

    st = open_store(settings)
    v = st.current(settings.default_dataset)
    villages = st.read_areas(settings.default_dataset, "village", version=v.id,
                             province=province)
    biggest = villages.groupby(villages["code"].str[:6])["n_households"].sum().idxmax()
    tambon = villages[villages["code"].str.startswith(biggest)]["code"].str[:8].iloc[0]
    village = villages[villages["code"].str.startswith(tambon)]["code"].iloc[0]
    click.echo(f"dataset {settings.default_dataset} version {v.id}: {len(villages):,} "
               f"villages in {province}; amphoe {biggest}; {loads} loads per page "
               "(server time, national user)")
    click.echo(f"{'page':58} {'p50 s':>8} {'max s':>8}")
    for label, url in _pages(province, biggest, tambon, village):
        first = client.get(url, headers=headers)
        if first.status_code != 200:
            click.echo(f"{label:58} HTTP {first.status_code}")
            continue
        times = _time(lambda u=url: client.get(u, headers=headers), loads)
        click.echo(f"{label:58} {statistics.median(times):8.3f} {max(times):8.3f}")
    click.echo(f"{'export':58} {'s':>8} {'size':>12}")
    for label, url in _exports(province, biggest):
        t = time.perf_counter()
        resp = client.get(url, headers=headers)
        dt_ = time.perf_counter() - t
        click.echo(f"{label:58} {dt_:8.3f} {len(resp.data):>10,} B"
                   if resp.status_code == 200 else f"{label:58} HTTP {resp.status_code}")

    # the XLSX writers on the same household list
    from service.analysis.spec import load_spec
    from service.export.formats import to_xlsx
    from service.export.xlsx import Sheet, workbook
    from service.usecases.exclusion import HOUSEHOLD_COLUMNS, household_rows

    persons = st.read_persons(settings.default_dataset, province, version=v.id)
    rows = household_rows(persons, province, load_spec("tpmap"))
    rows = rows[[c for c in HOUSEHOLD_COLUMNS if c in rows]]
    if len(rows) == 0:
        raise click.ClickException("no households to write")
    reps = -(-households // len(rows))
    frame = pd.concat([rows] * reps, ignore_index=True).head(households)
    t = time.perf_counter()
    fast = workbook([Sheet("households", frame)], metadata=[("ชุดข้อมูล", "Dataset", v.id)])
    t_fast = time.perf_counter() - t
    t = time.perf_counter()
    naive = to_xlsx(frame, layer="households")
    t_naive = time.perf_counter() - t
    click.echo(f"XLSX of {len(frame):,} households x {frame.shape[1]} columns: "
               f"xlsxwriter constant_memory {t_fast:.2f} s ({len(fast):,} B, Thai headers, "
               f"definitions, metadata) vs openpyxl write-only {t_naive:.2f} s "
               f"({len(naive):,} B, one header row): {t_naive / t_fast:.1f}x")
    if tmp is not None:
        tmp.cleanup()
