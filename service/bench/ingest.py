"""`chipao bench ingest --rows N`: streaming ingest vs naive pandas read_csv of the whole file.

A synthetic provincial export is written first: Thai headers, 13-digit national IDs with
valid check digits, names, house numbers, tambon codes of real tambons, coordinates, 17 BMN
indicators and welfare columns (what a ศจพ.จ. office receives). Each measurement runs in its
own Python process so its peak RSS (``ru_maxrss``) is its own:

- ``chipao``: :func:`service.ingest.run.ingest_files` up to the canonical per-province Parquet
  (sniff + SHA-256, decode check, parse in chunks, validate every rule, HMAC pseudonyms,
  duplicate check, write); the pipeline's scoring is benchmarked by ``chipao bench pipeline``.
- ``naive``: ``pandas.read_csv`` of the whole file with type inference, and nothing else
  (no validation, no pseudonyms): the usual first step of a notebook import.
- ``naive-import``: the notebook way of doing part of the job: the whole file in pandas,
  ``apply(axis=1)`` checks of ID, age and tambon only, an HMAC loop, ``to_parquet``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

log = logging.getLogger(__name__)

_CHILD = r"""
import json, sys, time
mode, path, data_dir = sys.argv[1], sys.argv[2], sys.argv[3]
t = time.perf_counter()
rows = 0
if mode == "naive":
    import pandas as pd
    frame = pd.read_csv(path, encoding="utf-8")
    rows = len(frame)
elif mode == "pyarrow":
    # pyarrow's raw parse: the whole file, every core, types inferred; nothing checked
    import pyarrow.csv as pacsv
    rows = pacsv.read_csv(path).num_rows
elif mode == "pyarrow-stream":
    # the streaming reader chipao uses, all columns as text, batches dropped
    import pyarrow.csv as pacsv
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=4 << 20))
    rows = sum(b.num_rows for b in reader)
elif mode == "naive-import":
    # the notebook way of doing (part of) the same job: whole file, row-wise checks, HMAC
    import hmac
    import pandas as pd
    import polars as pl
    from service.settings import load_settings
    bdir = load_settings({"data_dir": data_dir}).boundaries_dir
    tambons = set(pl.read_parquet(bdir + "/tambons.parquet", columns=["code"])["code"])
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    def row_ok(r):
        nid, age = r["เลขประจำตัวประชาชน"], r["อายุ"]
        ok = len(nid) == 13 and nid.isdigit() and int(nid[12]) == (
            11 - sum(int(d) * (13 - i) for i, d in enumerate(nid[:12])) % 11) % 10
        ok = ok and age.isdigit() and int(age) <= 120
        return ok and ("TH" + r["รหัสตำบล"]) in tambons
    keep = frame.apply(row_ok, axis=1)
    frame["person_id"] = [hmac.new(b"bench-key", ("pid:" + v).encode(), "sha256").hexdigest()[:24]
                          for v in frame["เลขประจำตัวประชาชน"]]
    frame = frame[keep].drop(columns=["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "รหัสประจำบ้าน"])
    frame.to_parquet(data_dir + ".parquet")
    rows = len(frame)
else:
    from pathlib import Path
    from service.ingest.run import ingest_files
    from service.settings import load_settings

    def count_only(settings, *, dataset, round, persons_dir, source_sha256, **_options):
        import polars as pl
        n = sum(pl.scan_parquet(f).select(pl.len()).collect().item()
                for f in Path(persons_dir, "persons").glob("*.parquet"))
        class V:
            id = f"bench-{n}"
        return V()

    workers = int(mode.split("-")[1]) if "-" in mode else 0
    settings = load_settings({"data_dir": data_dir, "pseudonym_key": "bench-key",
                              "ingest_workers": workers})
    report = ingest_files(settings, [path], dataset="bench", round=2567, build=count_only)
    assert report.status == "created", report.summary()
    rows = report.n_accepted
seconds = time.perf_counter() - t
# VmHWM of this process's own address space: ru_maxrss would carry over the parent's peak
# through fork + exec
with open("/proc/self/status") as fh:
    peak = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:"))
import os, resource
# worker processes (ingest_workers): the largest one's peak (each worker is alike)
child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
cpu = os.times()
print(json.dumps({"mode": mode, "rows": rows, "seconds": seconds, "peak_rss": peak,
                  "child_rss": child, "cpu": cpu.user + cpu.system + cpu.children_user
                  + cpu.children_system}))
"""


def make_export(path: Path, rows: int, *, boundaries_dir: str, seed: int = 7) -> Path:
    """Write a synthetic Thai BMN export of ``rows`` persons (UTF-8 with BOM, Thai headers)."""
    import numpy as np
    import polars as pl

    from service.ingest.schema import INDICATORS

    rng = np.random.default_rng(seed)
    tambons = pl.read_parquet(Path(boundaries_dir) / "tambons.parquet", columns=["code"])
    codes = tambons.filter(pl.col("code").str.slice(0, 4).is_in(["TH75", "TH50", "TH34"]))[
        "code"].to_numpy()
    digits = rng.integers(0, 10, size=(rows, 13))
    digits[:, 0] = 3
    # unique IDs: the row number in digits 2-8 (a provincial file never repeats a person)
    n = np.arange(rows)
    for k in range(7):
        digits[:, 8 - k] = (n // 10**k) % 10
    digits[:, 12] = (11 - (digits[:, :12] * np.arange(13, 1, -1)).sum(axis=1) % 11) % 10
    nid = (digits.astype(np.uint8) + ord("0")).view("S13").ravel().astype(str)
    hh = n // 3
    tambon = codes[rng.integers(0, len(codes), size=rows // 3 + 1)][hh]
    lon, lat = 99.99 + rng.normal(0, 0.01, rows), 13.40 + rng.normal(0, 0.01, rows)
    cols: dict[str, object] = {
        "เลขประจำตัวประชาชน": nid,
        "ชื่อ": np.array(["สมชาย", "มาลี", "สมศรี", "ประเสริฐ"])[n % 4],
        "นามสกุล": np.array(["ใจดี", "ศรีสุข", "บุญมา"])[hh % 3],
        "รหัสประจำบ้าน": np.char.add("9", np.char.zfill(hh.astype(str), 10)),
        "รหัสตำบล": np.char.replace(tambon.astype(str), "TH", ""),
        "หมู่ที่": (hh % 12 + 1).astype(str),
        "ลองจิจูด": np.where(tambon == codes[0], lon, np.nan),
        "ละติจูด": np.where(tambon == codes[0], lat, np.nan),
        "อายุ": rng.integers(0, 95, rows),
        "เพศ": np.array(["ชาย", "หญิง"])[rng.integers(0, 2, rows)],
    }
    for name in ("คนพิการ", "โรคเรื้อรัง", "บัตรสวัสดิการแห่งรัฐ", "เบี้ยยังชีพผู้สูงอายุ",
                 "ประกันสังคม", "แรงงานนอกระบบ"):
        cols[name] = np.array(["ไม่ใช่", "ใช่"])[(rng.random(rows) < 0.2).astype(int)]
    for ind in INDICATORS:
        cols[f"จปฐ.{ind}"] = rng.choice(np.array(["0", "1", ""]), rows, p=[0.8, 0.1, 0.1])
    cols["รายได้เฉลี่ยต่อคนต่อปี"] = rng.gamma(2.0, 40_000, rows).round(0)
    frame = pl.DataFrame(cols).with_columns(
        pl.col("ลองจิจูด").fill_nan(None), pl.col("ละติจูด").fill_nan(None))
    with open(path, "wb") as fh:
        fh.write(b"\xef\xbb\xbf")
        frame.write_csv(fh)
    return path


def _measure(mode: str, path: Path, data_dir: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(path), str(data_dir)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise click.ClickException(f"{mode} run failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


@click.command("ingest")
@click.option("--rows", type=int, default=1_000_000, show_default=True,
              help="Persons in the synthetic export.")
@click.option("--naive/--no-naive", default=True, show_default=True,
              help="Also time pandas.read_csv of the whole file (~10 GiB at 10 M rows).")
@click.option("--naive-import/--no-naive-import", default=True, show_default=True,
              help="Also time the notebook-style import (row-wise pandas checks + HMAC).")
@click.option("--workers", type=int, default=0, show_default=True,
              help="Worker processes of the parallel run (0 = the automatic choice, at "
                   "least 2).")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory to keep the generated export in (default: a temp dir).")
def command(rows: int, naive: bool, naive_import: bool, workers: int,
            keep: Path | None) -> None:
    """Ingest N rows (time, peak RSS) vs pyarrow's raw parse and naive pandas, one run."""
    from service.ingest.parallel import default_workers
    from service.settings import settings_from_env

    settings = settings_from_env()
    n_workers = default_workers(workers)
    with tempfile.TemporaryDirectory(prefix="chipao-bench-ingest-") as tmp:
        base = keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        path = base / f"bmn-export-{rows}.csv"
        t = time.perf_counter()
        if not path.exists():
            make_export(path, rows, boundaries_dir=settings.boundaries_dir)
        size = path.stat().st_size
        click.echo(f"export: {rows:,} rows, {size / 2**20:,.0f} MiB "
                   f"({time.perf_counter() - t:,.1f} s to generate)")
        modes = ["pyarrow", "pyarrow-stream", "chipao-1", f"chipao-{max(n_workers, 2)}"]
        modes += (["naive"] if naive else []) + (["naive-import"] if naive_import else [])
        results = {m: _measure(m, path, Path(tmp) / f"var-{m}") for m in modes}
    per_m = 1e6 / rows
    raw = results["pyarrow"]

    def line(label: str, r: dict, extra: str = "") -> None:
        ratio = r["seconds"] / raw["seconds"]
        click.echo(f"| {label} | {r['rows']:,} | {r['seconds']:,.1f} s | "
                   f"{r['seconds'] * per_m:,.2f} s | {ratio:,.2f}× | "
                   f"{r['peak_rss'] / 2**20:,.0f} MiB{extra} | {r['cpu']:,.1f} s |")

    click.echo("| step | rows | time | per million rows | ÷ pyarrow raw parse | peak RSS | "
               "CPU (all processes) |")
    click.echo("|---|---|---|---|---|---|---|")
    line("pyarrow raw parse (`pyarrow.csv.read_csv`, all cores, types inferred, no checks)",
         raw)
    line("pyarrow streaming parse (`open_csv`, 4 MiB blocks, nothing kept)",
         results["pyarrow-stream"])
    for m in modes:
        if m.startswith("chipao-"):
            n = int(m.split("-")[1])
            r = results[m]
            extra = (f" + {n} workers × {r['child_rss'] / 2**20:,.0f} MiB" if n > 1 else "")
            line(f"**chipao ingest**, {'one process' if n == 1 else f'{n} worker processes'}"
                 " (SHA-256, decode check, every rule, HMAC, duplicates, Parquet)", r, extra)
    if naive:
        line("naive `pandas.read_csv` (read only, no checks)", results["naive"])
    if naive_import:
        line("naive import (pandas whole file, `apply` checks of ID/age/tambon only, HMAC "
             "loop, to_parquet)", results["naive-import"])
    click.echo(f"({size / 2**20:,.0f} MiB CSV; {os.cpu_count()} cores)")
