"""`chipao mpi` end to end on CSV and Parquet files."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from mpi_fixtures import persons

from service.cli import main


def _frame():
    return persons([
        {"hh_id": "a", "age": 5, "province_code": "TH10", "deprived": ["ind15", "ind8"]},
        {"hh_id": "a", "age": 40, "sex": "F", "province_code": "TH10", "welfare_card": True,
         "deprived": ["ind8", "ind9", "ind20", "ind22", "ind4"]},
        {"hh_id": "b", "age": 70, "province_code": "TH50", "elderly_allowance": True},
        {"hh_id": "c", "age": 66, "province_code": "TH50",
         "deprived": ["ind21", "ind22", "ind27", "ind8"]},
    ])


@pytest.fixture
def files(tmp_path):
    df = _frame()
    pq = tmp_path / "persons.parquet"
    df.write_parquet(pq)
    cs = tmp_path / "persons.csv"
    # Excel-style UTF-8 with BOM
    cs.write_bytes(b"\xef\xbb\xbf" + df.write_csv().encode("utf-8"))
    return pq, cs


def _run(*args):
    return CliRunner().invoke(main, ["mpi", *args], catch_exceptions=False)


def test_json_by_province_and_several_k(files):
    pq, cs = files
    res = _run("--input", str(pq), "--by", "province_code", "--k", "0.26", "--k", "0.1")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["k_values"] == [0.26, 0.1] and out["spec"] == "tpmap"
    rows = {(r["k"], r["group"] and r["group"]["value"]): r for r in out["results"]}
    assert set(rows) == {(0.26, None), (0.26, "TH10"), (0.26, "TH50"),
                         (0.1, None), (0.1, "TH10"), (0.1, "TH50")}
    # person 2 (c = 0.283) and person 4 (0.1 + 2/15 + 0.05 = 0.283) are poor at k = 0.26
    top = rows[(0.26, None)]
    assert (top["n"], top["q"], top["h"]) == (4, 2, 0.5)
    for key in ("a", "m0", "censored_headcount", "uncensored_headcount", "contribution",
                "target_groups", "coverage"):
        assert key in top
    assert rows[(0.1, "TH10")]["q"] == 2
    assert len(out["contingencies"]["contingencies"]) == 9
    # CSV and Parquet inputs agree
    res_csv = _run("--input", str(cs), "--by", "province_code", "--k", "0.26", "--k", "0.1")
    assert res_csv.exit_code == 0, res_csv.output
    assert json.loads(res_csv.output)["results"] == out["results"]


def test_csv_output_weight_and_union_options(files, tmp_path):
    pq, _ = files
    target = tmp_path / "out.csv"
    res = _run("--input", str(pq), "--format", "csv", "--spec", "tpmap_union",
               "--union-dims", "income", "--no-card", "--output", str(target))
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert len(rows) == 1
    r = rows[0]
    assert float(r["h"]) == pytest.approx(0.75)      # union: any deprivation
    assert float(r["target_poor"]) == pytest.approx(0.5)  # income dimension, no card needed
    assert {"censored_ind22", "contribution_dim_income", "coverage_elderly_allowance",
            "h_child"} <= set(r)


def test_errors_are_clear(files, tmp_path):
    pq, cs = files
    res = CliRunner().invoke(main, ["mpi", "--input", str(pq), "--spec", "nope"])
    assert res.exit_code != 0 and "no such preset or file" in res.output
    res = CliRunner().invoke(main, ["mpi", "--input", str(pq), "--by", "district"])
    assert res.exit_code != 0 and "column district" in res.output
    res = CliRunner().invoke(main, ["mpi", "--input", str(pq), "--k", "0"])
    assert res.exit_code != 0 and "k" in res.output
    bad = tmp_path / "bad.csv"
    bad.write_text(cs.read_text(encoding="utf-8-sig").replace(",0,0,0,0,0,0,0,0,0,0,0,0,0,0\n",
                                                              ",0,0,0,0,0,0,0,0,0,0,0,0,0,7\n",
                                                              1), encoding="utf-8")
    res = CliRunner().invoke(main, ["mpi", "--input", str(bad)])
    assert res.exit_code != 0 and "row" in res.output and "column ind" in res.output
    res = CliRunner().invoke(main, ["mpi", "--input", str(tmp_path / "x.xlsx")])
    assert res.exit_code != 0


def test_partial_file_scores_what_it_can(tmp_path):
    path = tmp_path / "few.csv"
    cols = ["ind1", "ind4", "ind5", "ind7", "ind8", "ind9", "ind10", "ind11", "ind15", "ind16",
            "ind17", "ind19", "ind20", "ind21", "ind22", "ind27", "ind28"]
    path.write_text(",".join(cols) + "\n" + ",".join("1" if c in ("ind8", "ind22") else "0"
                                                     for c in cols) + "\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["mpi", "--input", str(path), "--programmes", "none"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["results"][0]["q"] == 0 and out["results"][0]["m0"] == 0
    assert "households" in out["skipped"]


def test_bench_naive_and_engine_agree_on_small_sample():
    res = CliRunner().invoke(main, ["bench", "mpi", "--persons", "3000", "--naive-sample",
                                    "400"])
    assert res.exit_code == 0, res.output
    assert "results identical on the sample: yes" in res.output
    assert "extrapolated" in res.output


def test_rule_on_wrong_column_type_is_a_clear_error(tmp_path):
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({
        "name": "s", "k": 1, "dimensions": ["d"], "union": {"require_column": None},
        "indicators": [{"name": "ind16", "dimension": "d",
                        "applies": {"column": "age", "op": ">=", "value": 6}}]}),
        encoding="utf-8")
    data = tmp_path / "p.csv"
    data.write_text("age,ind16\nold,1\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["mpi", "--spec", str(spec), "--input", str(data),
                                    "--programmes", "none"])
    assert res.exit_code == 1, res.output
    assert "cannot compute" in res.output and "p.csv" in res.output


def test_bench_reads_province_files(tmp_path):
    (tmp_path / "persons").mkdir()
    df = _frame()
    df.filter(df["province_code"] == "TH10").write_parquet(tmp_path / "persons" / "TH10.parquet")
    df.filter(df["province_code"] == "TH50").write_parquet(tmp_path / "persons" / "TH50.parquet")
    res = CliRunner().invoke(main, ["bench", "mpi", "--input", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "persons / คน: 4 (2 province Parquet files" in res.output
    assert "H = 0.5000" in res.output and "poor households = 2" in res.output
