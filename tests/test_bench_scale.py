"""`chipao bench scale`: issue 17 item 7 in one run, scaled down to one province, one round,
20 k rows and 5 clients. Checked: every row of the report carries numbers, the one-round
builds are byte-identical, and a part that fails is reported as failed (its row in the
report, exit status 1) while the other parts still run. The timings are not checked (they
are measured by the command, docs/benchmarks.md)."""

from __future__ import annotations

import re
import socket

import pytest
from click.testing import CliRunner

from service.cli import main

NUMBER = r"[\d,]+(?:\.\d+)?"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """One data directory for the module, as one run would share it: the load test serves
    the demo dataset the rounds part built (its locator grid and raster made once)."""
    return tmp_path_factory.mktemp("scale-data")


def _scale(tmp_path, data_dir, *args):
    report = tmp_path / "report.md"
    res = CliRunner().invoke(main, ["bench", "scale", "--data-dir", str(data_dir),
                                    "--report", str(report), *args])
    return res, report.read_text(encoding="utf-8") if report.exists() else ""


def _rows(text: str, first: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")]
            for line in text.splitlines() if line.startswith(f"| {first} |")]


def _measured(cell: str, unit: str) -> float:
    m = re.fullmatch(rf"({NUMBER}) {unit}", cell)
    assert m, f"{cell!r} is not a number of {unit}"
    return float(m.group(1).replace(",", ""))


def _check_measured(parts: list[list[str]]) -> None:
    for _part, _what, status, wall, cpu, peak, load in parts:
        assert status == "ok"
        assert _measured(wall, "s") > 0 and _measured(cpu, "s") > 0
        assert _measured(peak, "GiB") > 0.05  # a Python process with polars: > 50 MiB
        assert float(load) >= 0


@pytest.mark.slow
def test_rounds_and_builds_in_one_run_report_every_row_with_numbers(tmp_path, data_dir):
    res, text = _scale(tmp_path, data_dir, "--parts", "rounds,build", "--provinces", "TH75",
                       "--rounds", "2561", "--no-raster")
    assert res.exit_code == 0, res.output
    assert text and text in res.output  # the same report on standard output
    assert re.search(r"Machine: \d+ cores, [\d.]+ GiB RAM", text)
    assert re.search(r"commit ([0-9a-f]{12}|unknown)", text)
    parts = _rows(text, "rounds") + _rows(text, "build")
    # rounds; generation of the builds' persons is not needed (the rounds made them); one
    # process + dask 2
    assert [p[0] for p in parts] == ["rounds"] + ["build"] * 2
    _check_measured(parts)
    [total] = _rows(text, "**all**")
    assert total[2] == "**125,464**"  # TH75's demo persons of round 2561
    builds = _rows(text, "one process") + _rows(text, "dask, 2 worker processes")
    assert len(builds) == 2
    for _name, persons, seconds, rate, ratio, same, _peak, stages in builds:
        assert persons == "125,464" and same == "yes"
        assert _measured(seconds, "s") > 0 and "aggregate" in stages
        assert int(rate.replace(",", "")) > 0 and ratio.endswith("×")
    assert "All 3 measurements ran." in text


@pytest.mark.slow
def test_ingest_and_load_run_and_a_failed_part_is_reported_not_skipped(tmp_path, data_dir):
    with socket.socket() as s:  # a port nothing listens on: Redis "down"
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    res, text = _scale(tmp_path, data_dir, "--parts", "load,ingest", "--provinces", "TH75",
                       "--ingest-rows", "20000", "--clients", "5",
                       "--processes", "1,2", "--load-seconds", "2", "--cold",
                       "--redis", f"redis://127.0.0.1:{closed}/0")
    assert res.exit_code == 1, res.output
    assert "1 of 6 measurements failed" in res.output
    ingest_parts = _rows(text, "ingest")  # export + pyarrow + chipao 1 + chipao 2
    assert len(ingest_parts) == 4
    _check_measured(ingest_parts)
    ingest = _rows(text, "20,000")
    assert [r[1].split(" (")[0] for r in ingest] == [
        "pyarrow raw parse", "chipao ingest, one process", "chipao ingest, 2 worker processes"]
    for row in ingest:
        assert _measured(row[2], "s") > 0 and row[4].endswith("×")
    one, two = _rows(text, "load")
    assert one[2] == "ok" and _measured(one[3], "s") > 0
    assert two[2].startswith("**FAILED**") and f"127.0.0.1:{closed}" in two[2]
    assert "does not answer" in two[2]
    [ok] = _rows(text, "1 | 5 | upload-free")
    requests, rps, p50, p99 = ok[3], ok[4], ok[5], ok[6]
    assert int(requests.replace(",", "")) > 0 and rps.endswith("/s")
    assert _measured(p50, "ms") >= 0 and _measured(p99.strip("*"), "ms") >= _measured(p50, "ms")
    assert ok[7] == "0.00%"
    [failed] = _rows(text, "2 | 5")
    assert "**FAILED**" in failed[7]  # the failed server's row is there, not left out


@pytest.mark.parametrize("code, error", [
    ("import sys; print('half done'); sys.exit('disk full')", "exit status 1: disk full"),
    ("import time; time.sleep(30)", "timed out after 1 s"),
    ("print('no result line')", "no result in the output"),
])
def test_a_measurement_that_crashes_hangs_or_answers_nothing_is_failed(tmp_path, code, error):
    import sys
    import time

    from service.bench.scale import Run, run_process

    t0 = time.perf_counter()
    run = run_process(Run("build", "x"), [sys.executable, "-c", code],
                      log_path=tmp_path / "x.log", timeout=1.0)
    assert run.status == "failed" and error in run.error
    assert time.perf_counter() - t0 < 20  # the hung one was ended, not waited for


def test_failed_parts_keep_their_rows_in_every_results_table(tmp_path):
    from datetime import UTC, datetime

    from service.bench.scale import Plan, Run, machine, report

    plan = Plan(tmp_path, ["TH75"], [2561, 2562], 2561, [2], True, [1000, 5000], [50, 200],
                [1, 2], "TH75", 30.0, 8, False, True, 15.0, "", None)
    failed = {"status": "failed", "error": "exit status -9: (no output)"}
    runs = [Run("rounds", "rounds", **failed),
            Run("build", "one", result={"kind": "single", "workers": 0}, **failed),
            Run("build", "dask", result={"kind": "dask", "workers": 2}, **failed),
            Run("ingest", "1,000 rows: pyarrow raw parse", result={"mode": "pyarrow"},
                **failed),
            Run("load", "2 servers", result={"processes": 2}, **failed)]
    text = report(plan, ["rounds", "build", "ingest", "load"], runs, machine(),
                  datetime.now(UTC), "chipao bench scale")
    assert text.count("**FAILED**: exit status -9") == 5 + 1 + 2 + 1 + 2  # parts + details
    assert "**5 of 5 measurements failed**" in text
