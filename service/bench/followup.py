"""`chipao bench followup --records N --cases M`: agency imports and case pages at scale.

A temporary data dir gets one province (Mae Hong Son, TH58) with ``--cases`` open cases
spread over its real tambons, plan items with due dates for a third of them, and an agency
CSV of ``--records`` help records (Thai headers, Buddhist-era dates, agency and action
labels, some possible duplicates). Measured in the same run:

- ``import``: :func:`service.followup.imports.import_assistance` of the whole file (sniff +
  SHA-256, column-wise validation, case lookup, duplicate-help flags, one transaction);
  ``naive import``: the same rows through the web-form path one record at a time
  (:meth:`CaseStore.add_assistance`: one validation, duplicate query and transaction each),
  timed on ``--naive-records`` rows and scaled to the file.
- page times (median and 95th percentile of ``--repeat`` requests through the WSGI app) of
  the case list (first page, a filtered page, past due), a case page, the progress page and
  the progress API; ``naive progress``: counting per amphoe in Python after one query per
  case for its plan and help rows (the N+1 way), against the one SQL group-by.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import numpy as np
import polars as pl

log = logging.getLogger(__name__)

PROVINCE = "TH58"


def _cases_frame(tambons: list[str], n: int, rng: np.random.Generator) -> pl.DataFrame:
    t = rng.choice(tambons, n)
    moo = rng.integers(1, 15, n)
    return pl.DataFrame({
        "hh_id": [f"{a}-{i:06d}" for i, a in enumerate(t)],
        "province_code": PROVINCE, "amphoe_code": [a[:6] for a in t], "tambon_code": t,
        "village_id": [f"{a}{m:02d}" for a, m in zip(t, moo, strict=True)],
        "mpi_poor": rng.random(n) < 0.4, "target_poor": rng.random(n) < 0.8,
        "excluded": rng.choice(["", "elderly_allowance", "welfare_card,child_grant"], n),
        "failing": rng.choice(["ind22", "ind8,ind22", "ind9,ind10,ind20", "ind16"], n),
        "n_members": rng.integers(1, 7, n).astype(np.int32),
        "household_type": rng.choice(["other", "child", "elderly", "child+elderly"], n),
        "max_c": rng.random(n).round(3)})


def _write_records(path: Path, hh: list[str], n: int, rng: np.random.Generator) -> None:
    agencies = ["พมจ.", "อปท.", "ประกันสังคม", "พัฒนาฝีมือแรงงาน", "เกษตรจังหวัด", "รพ.สต."]
    actions = ["ซ่อมแซมบ้าน", "ถุงยังชีพ / สิ่งของจำเป็น", "ss_art40", "ฝึกอาชีพ",
               "ส่งเสริมการเกษตร (พันธุ์พืช พันธุ์สัตว์)", "เยี่ยมบ้านด้านสุขภาพ (อสม. / รพ.สต.)"]
    start = dt.date(2025, 10, 1)
    # distinct (household, day, agency, action): a repeated row is an error in the file
    keys = np.unique(rng.integers(0, len(hh) * 420 * 36, int(n * 1.2)))
    keys = rng.permutation(keys)[:n]
    who, rest = keys // (420 * 36), keys % (420 * 36)
    day, ag, ac = rest // 36, (rest % 36) // 6, rest % 6
    amount = rng.choice([0, 500, 1000, 3000, 15000, 20000], n)
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["รหัสครัวเรือน", "วันที่", "หน่วยงาน", "กิจกรรม", "จำนวนเงิน (บาท)", "หมายเหตุ"])
        for i in range(n):
            d = start + dt.timedelta(days=int(day[i]))
            w.writerow([hh[who[i]], f"{d.day}/{d.month}/{d.year + 543}", agencies[ag[i]],
                        actions[ac[i]], f"{amount[i]:,}", "ส่งมอบแล้ว" if i % 3 else ""])


def _timed(fn: Any, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


@click.command("followup")
@click.option("--records", type=int, default=100_000, show_default=True,
              help="Help records in the agency file.")
@click.option("--cases", type=int, default=20_000, show_default=True,
              help="Open cases in the province.")
@click.option("--naive-records", type=int, default=2_000, show_default=True,
              help="Records sent one at a time for the naive import (scaled to --records).")
@click.option("--repeat", type=int, default=20, show_default=True,
              help="Requests per page for the page times.")
def command(records: int, cases: int, naive_records: int, repeat: int) -> None:
    """Agency import and case-page times at scale (same run, naive comparison)."""
    from service import create_app
    from service.api.auth import user_store
    from service.api.services import services
    from service.followup.imports import import_assistance
    from service.geo import boundaries
    from service.usecases.cases import case_store

    rng = np.random.default_rng(2569)
    with tempfile.TemporaryDirectory(prefix="chipao-bench-followup-") as tmp:
        app = create_app({"data_dir": str(Path(tmp) / "var"), "secret_key": "b",
                          "rate_limit": "", "pseudonym_key": "k"})
        svc = services(app)
        settings = svc.settings
        with svc.store.write_version("bench", round=2566, source_sha256="0" * 64) as w:
            version = w.publish(n_persons=0, n_households=0, meta={})
        tam = boundaries.load_level(settings.boundaries_dir, "tambon")
        tambons = sorted(c for c in tam["code"] if c.startswith(PROVINCE))
        store = case_store(svc)
        frame = _cases_frame(tambons, cases, rng)
        t0 = time.perf_counter()
        store.sync_cases("bench", version_id=version.id, round=2566, province=PROVINCE,
                         households=frame)
        t_open = time.perf_counter() - t0
        users = user_store(app)
        users.create_user("officer", "bench-password-1", "provincial", PROVINCE)
        token = users.create_token("officer")[0]

        class Who:
            username, role, province = "officer", "provincial", PROVINCE

        rows, _ = store.list_cases("bench", 2566, provinces={PROVINCE}, limit=500)
        ids = [r["id"] for r in rows]
        for cid in ids[: min(len(ids), 300)]:
            store.change_status(cid, "visited", actor=Who())
        # plan items for a third of the cases (one bulk insert), half of them past due
        from service.followup import models as m

        sample = rng.choice(np.arange(1, cases + 1), cases // 3, replace=False)
        with store.engine.begin() as conn:
            conn.execute(m.plan.insert(), [
                {"case_id": int(c), "horizon": "urgent", "action": "goods_aid",
                 "agency": "pmj", "due_date": dt.date(2026, 6 if i % 2 else 12, 1), "note": "",
                 "cancelled": False, "created_at": dt.datetime.now(dt.UTC),
                 "created_by": "officer"} for i, c in enumerate(sample)])
        path = Path(tmp) / "agency.csv"
        _write_records(path, frame["hh_id"].to_list(), records, rng)
        size = path.stat().st_size / 2**20
        t0 = time.perf_counter()
        rep = import_assistance(store, settings, path, dataset="bench", actor=Who(),
                                allowed_province=PROVINCE, today=dt.date(2026, 12, 1))
        t_import = time.perf_counter() - t0
        if rep.status != "created":
            raise click.ClickException(rep.summary())
        # naive: the web-form path, one record at a time
        naive_n = min(naive_records, records)
        hh = frame["hh_id"].to_list()
        by_hh = dict(zip(hh, range(1, cases + 1), strict=True))
        t0 = time.perf_counter()
        for _ in range(naive_n):
            store.add_assistance(by_hh[hh[int(rng.integers(0, cases))]], given_on="2026-11-01",
                                 agency="lao", action="goods_aid", actor=Who(), amount_thb=100)
        t_naive = (time.perf_counter() - t0) * records / max(naive_n, 1)

        client = app.test_client()
        h = {"Authorization": f"Bearer {token}", "Accept": "text/html"}
        amphoe = tambons[0][:6]
        pages = {
            "case list, first page": f"/cases?province={PROVINCE}&dataset=bench",
            "case list, amphoe + status": f"/cases?province={PROVINCE}&dataset=bench"
                                          f"&area={amphoe}&status=visited",
            "case list, past due": f"/cases?province={PROVINCE}&dataset=bench&overdue=1",
            "case list, page 200": f"/cases?province={PROVINCE}&dataset=bench&page=200",
            "case page": f"/cases/{ids[0]}",
            "progress page (amphoes)": f"/cases/progress?level=amphoe&area={PROVINCE}"
                                       "&dataset=bench",
            "progress API (tambons)": f"/api/v1/followup/progress?level=tambon&area={PROVINCE}"
                                      "&dataset=bench",
        }
        results = []
        for name, url in pages.items():
            r = client.get(url, headers=h)
            if r.status_code != 200:
                raise click.ClickException(f"{url}: {r.status_code} {r.get_data()[:300]!r}")
            med, p95 = _timed(lambda u=url: client.get(u, headers=h), repeat)
            results.append((name, med, p95))
        t0 = time.perf_counter()
        store.progress("bench", 2566, level="amphoe", provinces={PROVINCE})
        t_sql = time.perf_counter() - t0
        t0 = time.perf_counter()
        _naive_progress(store)
        t_n1 = time.perf_counter() - t0

    click.echo(f"{cases:,} open cases in {PROVINCE} (opened in {t_open:.2f} s); agency file "
               f"{records:,} records, {size:,.1f} MiB")
    click.echo("| step | time | ratio |")
    click.echo("|---|---|---|")
    click.echo(f"| import {records:,} records (validate, case lookup, duplicate flags, one "
               f"transaction; {rep.n_flagged:,} flagged) | {t_import:,.2f} s | |")
    click.echo(f"| naive: web-form path one record at a time ({naive_n:,} timed, scaled) | "
               f"{t_naive:,.1f} s | {t_naive / t_import:,.0f}× slower |")
    click.echo(f"| progress per amphoe: one SQL group-by | {t_sql * 1000:,.0f} ms | |")
    click.echo(f"| naive progress: N+1 queries per case | {t_n1 * 1000:,.0f} ms | "
               f"{t_n1 / t_sql:,.0f}× slower |")
    click.echo("")
    click.echo(f"| page ({repeat} requests) | median | p95 |")
    click.echo("|---|---|---|")
    for name, med, p95 in results:
        click.echo(f"| {name} | {med * 1000:,.0f} ms | {p95 * 1000:,.0f} ms |")


def _naive_progress(store: Any) -> dict[str, list[int]]:
    import sqlalchemy as sa

    from service.followup import models as m

    out: dict[str, list[int]] = {}
    with store.engine.connect() as conn:
        for cid, amphoe, status in conn.execute(sa.select(
                m.cases.c.id, m.cases.c.amphoe_code, m.cases.c.status)).all():
            plans = conn.execute(sa.select(m.plan.c.id).where(m.plan.c.case_id == cid)).all()
            helps = conn.execute(sa.select(m.assistance.c.id).where(
                m.assistance.c.case_id == cid)).all()
            row = out.setdefault(amphoe, [0, 0, 0, 0])
            row[0] += 1
            row[1] += status != "not_visited"
            row[2] += bool(plans)
            row[3] += bool(helps)
    return out
