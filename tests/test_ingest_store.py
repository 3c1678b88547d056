"""Ingest through the real pipeline and store: demo round-trip, idempotent re-import, an
import killed mid-way (parsing, then building) leaving the old version byte-identical."""

from __future__ import annotations

import csv
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from ingest_support import HEADER_TH, KEY, good_rows, nid, settings_for, write_csv

from service.cli import main
from service.ingest.pseudonym import Pseudonymiser
from service.ingest.run import ingest_files
from service.ingest.schema import PERSON_SCHEMA
from service.store import open_store


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    # one data dir for the module, and the pipeline's tambon locator grid (content-hashed,
    # ~10 s to build) kept between runs next to pytest's temporary directories
    root = tmp_path_factory.mktemp("ingest-store")
    shared = tmp_path_factory.getbasetemp().parent / "chipao-ingest-locator-cache"
    shared.mkdir(exist_ok=True)
    (root / "var").mkdir()
    (root / "var" / "cache").symlink_to(shared, target_is_directory=True)
    return settings_for(root)


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_demo_data_round_trips_through_csv_export_and_ingest(settings, tmp_path,
                                                            make_demo_persons):
    from service.export import export_frame

    demo_dir = make_demo_persons(provinces=["TH75"], amphoes=["TH7502"], with_identifiers=True)
    demo = pl.read_parquet(Path(demo_dir) / "persons" / "TH75.parquet")
    assert {"national_id", "first_name", "last_name"} <= set(demo.columns)
    path = tmp_path / "demo-export.csv"
    path.write_bytes(export_frame(demo.to_pandas(), "csv"))

    report = ingest_files(settings, [path], dataset="rt", round=2561)
    assert report.status == "created", report.summary()
    assert report.n_accepted == demo.height and report.n_problems == 0
    store = open_store(settings)
    stored = store.read_persons("rt", "TH75").select(list(PERSON_SCHEMA)).sort("person_id")
    expected = demo.with_columns(person_id=pl.Series(
        Pseudonymiser(KEY).many("pid", demo["national_id"].to_list()))).select(
        list(PERSON_SCHEMA)).sort("person_id")
    from polars.testing import assert_frame_equal

    assert_frame_equal(stored, expected)
    # no identifier reached the stored version
    vdir = store.version_dir("rt")
    blob = b"".join(p.read_bytes() for p in vdir.rglob("*") if p.is_file())
    for value in demo["national_id"].head(50).to_list() + [demo["last_name"][0]]:
        assert value.encode() not in blob

    # same file again: same SHA-256, no new version, nothing parsed
    again = ingest_files(settings, [path], dataset="rt", round=2561)
    assert again.status == "existing" and again.version_id == report.version_id
    assert len(store.versions("rt")) == 1


def _big_csv(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER_TH)
        base = good_rows(1)[0]
        for i in range(n):
            row = list(base)
            row[0], row[3] = nid(100 + i, "3"), f"7501{i // 3:07d}"
            row[8] = str(i % 90)
            w.writerow(row)
    return path


def _start(settings, path: Path) -> subprocess.Popen:
    env = {**os.environ, "CHIPAO_DATA_DIR": settings["data_dir"], "CHIPAO_PSEUDONYM_KEY": KEY}
    env.pop("CHIPAO_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", "ingest", str(path), "--dataset", "kill",
         "--round", "2567", "--policy", "reject"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"import finished (rc {proc.returncode}) before it could be killed")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("import never reached the point to kill it")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_import_killed_mid_way_leaves_previous_version_unchanged(settings, tmp_path):
    first = ingest_files(settings, [write_csv(tmp_path / "v1.csv", good_rows(6))],
                         dataset="kill", round=2567)
    assert first.status == "created"
    store = open_store(settings)
    vdir = store.version_dir("kill")
    before = _tree_digest(vdir)
    assert any(k.startswith("persons/") for k in before)
    big = _big_csv(tmp_path / "big.csv", 60_000)
    data_dir = Path(settings["data_dir"]).resolve()

    # 1. killed while parsing (canonical Parquet being written in the work dir)
    proc = _start(settings, big)
    _kill_when(proc, lambda: any(data_dir.glob("tmp/ingest-*/persons/*.parquet")))
    # 2. killed while the pipeline writes the new version
    proc = _start(settings, big)
    _kill_when(proc, lambda: any((data_dir / "datasets" / "kill").glob(".building-*")))

    store = open_store(settings)
    assert store.current("kill").id == first.version_id
    assert [v.id for v in store.versions("kill")] == [first.version_id]
    assert _tree_digest(vdir) == before
    assert store.read_persons("kill", "TH75").height == 6

    # the same import run to completion replaces it and cleans the leftovers
    done = ingest_files(settings, [big], dataset="kill", round=2567)
    assert done.status == "created" and done.n_accepted == 60_000
    assert open_store(settings).current("kill").id == done.version_id
    assert not list((data_dir / "datasets" / "kill").glob(".building-*"))
    assert not list(data_dir.glob("tmp/ingest-*"))  # the killed imports' work dirs are gone
    assert _tree_digest(vdir) == before  # old versions are kept, untouched


def test_cli_reject_exit_code_and_find_pseudonym(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("CHIPAO_DATA_DIR", settings["data_dir"])
    monkeypatch.setenv("CHIPAO_PSEUDONYM_KEY", KEY)
    rows = good_rows(4)
    rows[1][8] = "250"
    bad = write_csv(tmp_path / "bad.csv", rows)
    result = CliRunner().invoke(main, ["ingest", str(bad), "--dataset", "cli", "--round",
                                       "2567", "--report", str(tmp_path / "r.csv")])
    assert result.exit_code == 1, result.output
    assert "row 3 column age" in result.output and "impossible age" in result.output
    assert rows[1][0] not in result.output
    target = Pseudonymiser(KEY).one("pid", nid(2))
    result = CliRunner().invoke(main, ["ingest", str(bad), "--find-pseudonym", target])
    assert result.exit_code == 0, result.output
    assert nid(2) in result.output and "row: 3" in result.output
    result = CliRunner().invoke(main, ["ingest", str(bad)])
    assert result.exit_code != 0 and "--round" in result.output


def test_municipal_rows_are_counted_in_the_tambon_amphoe_and_province_of_their_point(
        settings, tmp_path, monkeypatch):
    """TPMAP municipal pseudo-tambons through the real pipeline and the CLI."""
    monkeypatch.setenv("CHIPAO_DATA_DIR", settings["data_dir"])
    monkeypatch.setenv("CHIPAO_PSEUDONYM_KEY", KEY)
    rows = good_rows(8)
    points = {"750151": ("13.3799", "99.9547"),     # Bang Khan Taek, TH750102 (amphoe TH7501)
              "TH750152": ("13.401", "99.995")}     # Mae Klong, TH750101
    for i, r in enumerate(rows[:6]):
        code = "750151" if i < 4 else "TH750152"
        r[4], (r[6], r[7]) = code, points[code]
    rows[5][6], rows[5][7] = "13.4759", "99.9523"   # Kradang Nga, TH750201: another amphoe
    rows[5][3] = "75019999999"                      # its own household
    path = write_csv(tmp_path / "muni.csv", rows)   # rows 7-8: ordinary TH750101 persons
    result = CliRunner().invoke(main, ["ingest", str(path), "--dataset", "muni", "--round",
                                       "2567"])
    assert result.exit_code == 0, result.output
    assert "municipal pseudo-tambon" in result.output and "outside the declared amphoe" in (
        result.output)
    store = open_store(settings)
    persons = store.read_persons("muni", "TH75").sort("age")
    assert persons["tambon_code"].to_list() == [None] * 6 + ["TH750101"] * 2
    assert persons["tambon_located"].to_list() == (
        ["TH750102"] * 4 + ["TH750101", "TH750201"] + ["TH750101"] * 2)
    assert persons["locate_source"].unique().to_list() == ["point"]
    tambon = store.read_areas("muni", "tambon").set_index("code")["n_persons"]
    amphoe = store.read_areas("muni", "amphoe").set_index("code")["n_persons"]
    province = store.read_areas("muni", "province").set_index("code")["n_persons"]
    assert tambon.to_dict() == {"TH750101": 3, "TH750102": 4, "TH750201": 1}
    assert amphoe.to_dict() == {"TH7501": 7, "TH7502": 1}
    assert province.to_dict() == {"TH75": 8}
    # no village is invented from a pseudo-tambon
    villages = store.read_areas("muni", "village")["code"].to_list()
    assert villages == ["TH75010103"]
