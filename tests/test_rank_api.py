"""`chipao rank` / `chipao select` and the rankings API on a small real store (2 rounds)."""

from __future__ import annotations

import json

import h3
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from service.analysis.aggregate import admin_names, aggregate
from service.api.auth import user_store
from service.geo import boundaries
from service.store import open_store

PROVINCES = ("TH50", "TH10")
SIZES = (4, 12, 25, 40)  # households per village


def scored(settings, province: str, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    tambons = boundaries.load_level(settings["boundaries_dir"], "tambon")
    sub = tambons[tambons["code"].str.startswith(province)].sort_values("code").iloc[:2]
    rows: list[dict] = []
    for tambon, pt in zip(sub["code"], sub.geometry.representative_point(), strict=True):
        for v, size in enumerate(SIZES, start=1):
            village = f"{tambon}{v:02d}"
            rate = (0.15, 0.5, 0.3, 0.2)[v - 1]
            for h in range(size):
                hh = f"{village}-{h:03d}"
                poor_hh = bool(rng.random() < rate)
                dep8 = poor_hh and rng.random() < 0.3
                for m in range(int(rng.integers(1, 4))):
                    c = float(rng.uniform(0.3, 0.8) if poor_hh else rng.uniform(0, 0.2))
                    age = int(rng.integers(0, 90))
                    rows.append({
                        "person_id": f"{hh}-{m}", "hh_id": hh, "village_id": village,
                        "tambon_code": tambon, "amphoe_code": tambon[:6],
                        "province_code": province, "tambon_located": tambon,
                        "lon": pt.x, "lat": pt.y, "age": age, "sex": "F" if m % 2 else "M",
                        "mpi_c": c, "mpi_poor": c >= 0.26, "mpi_vulnerable": 0.2 <= c < 0.26,
                        "mpi_severe": c >= 0.5, "dep_ind22": int(poor_hh),
                        "dep_ind8": int(dep8), "tpmap_deprived_any": poor_hh,
                        "tpmap_target_poor": poor_hh, "hh_mpi_poor": poor_hh,
                        "hh_crossgen": poor_hh and age < 18, "grp_child": age < 18,
                        "grp_elderly": age >= 60, "elig_elderly_allowance": age >= 60,
                        "cov_elderly_allowance": age >= 60 and rng.random() < 0.7,
                    })
    frame = pl.DataFrame(rows).with_columns(pl.col("dep_ind22", "dep_ind8").cast(pl.Int8))
    for r in (6, 7, 8, 9):
        cells = [h3.str_to_int(h3.latlng_to_cell(la, lo, r))
                 for lo, la in zip(frame["lon"], frame["lat"], strict=True)]
        frame = frame.with_columns(pl.Series(f"h3_r{r}", cells, dtype=pl.UInt64))
    return frame


@pytest.fixture
def store_app(app):
    settings = app.config["CHIPAO"]
    store = open_store(settings)
    names = admin_names(boundaries.hierarchy(settings["boundaries_dir"]))
    for i, rnd in enumerate((2561, 2566)):
        persons = {p: scored(settings, p, seed=10 * i + k) for k, p in enumerate(PROVINCES)}
        tables = aggregate(list(persons.values()), names=names)
        with store.write_version("demo", round=rnd, source_sha256=f"{rnd:064d}") as w:
            for p, frame in persons.items():
                frame.write_parquet(w.persons_path(p))
            for level, table in tables.items():
                table.write_parquet(w.areas_path(level))
            w.publish(n_persons=sum(len(f) for f in persons.values()),
                      n_households=sum(f["hh_id"].n_unique() for f in persons.values()),
                      meta={})
    return app


def token(app, role: str, province: str | None = None) -> dict[str, str]:
    users = user_store(app)
    name = f"{role}{province or ''}".lower()
    if name not in {u.username for u in users.list_users()}:
        users.create_user(name, "correct horse battery", role, province)
    secret, _ = users.create_token(name)
    return {"Authorization": f"Bearer {secret}"}


def cli_env(app) -> dict[str, str]:
    s = app.config["CHIPAO"]
    return {"CHIPAO_DATA_DIR": s["data_dir"], "CHIPAO_DATABASE_URL": s["database_url"]}


def test_cli_rank_json_and_table(store_app):
    from service.cli import main

    runner = CliRunner()
    res = runner.invoke(main, ["rank", "--province", "TH50", "--format", "json"],
                        env=cli_env(store_app))
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["previous_version"] is not None and out["round"] == 2566
    items = out["items"]
    assert [i["priority_rank"] for i in items] == list(range(1, 9))
    assert all(i["code"].startswith("TH50") for i in items)
    assert "contrib_m0_change" in items[0] and items[0]["explanation_th"]
    res = runner.invoke(main, ["rank", "--province", "TH50", "--top", "3", "--bootstrap",
                               "30", "--weight", "n_poor=1"], env=cli_env(store_app))
    assert res.exit_code == 0, res.output
    assert "p_top_n" in res.output and "Poor people" in res.output


def test_cli_select_reports_method_and_baseline(store_app):
    from service.cli import main

    res = CliRunner().invoke(main, ["select", "--province", "TH50", "--budget", "2000000",
                                    "--cost", "ind22=20000", "--cost", "ind8=80000",
                                    "--per-amphoe", "--format", "json"],
                             env=cli_env(store_app))
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["method"] == "milp"
    assert out["total_cost_thb"] <= 2_000_000
    assert out["gain_people_lifted"] >= 0
    res = CliRunner().invoke(main, ["select", "--province", "TH50", "--budget", "1",
                                    "--cost", "oops"], env=cli_env(store_app))
    assert res.exit_code == 1 and "name=number" in res.output  # a clear message, no traceback
    assert res.exception is None or isinstance(res.exception, SystemExit)
    res = CliRunner().invoke(main, ["select", "--province", "TH50", "--budget", "1",
                                    "--per-amphoe"], env=cli_env(store_app))
    assert res.exit_code == 1 and "needs at least" in res.output
    res = CliRunner().invoke(main, ["rank", "--province", "TH50", "--weight", "nope=1"],
                             env=cli_env(store_app))
    assert res.exit_code == 1 and "unknown weight" in res.output


def test_cli_table_output_is_for_people(store_app):
    from service.cli import main

    env = cli_env(store_app)
    res = CliRunner().invoke(main, ["select", "--province", "TH50", "--budget", "20000000",
                                    "--cost", "ind22=20000"], env=env)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert "budget_thb: 20,000,000 THB" in lines
    assert not [ln for ln in lines if ln.rstrip().endswith(":")]  # no empty fields
    m0 = next(ln for ln in lines if ln.startswith("m0_fall: "))
    assert len(m0.split(": ")[1].split(".")[-1]) <= 4  # 0.0014, not 0.0014228939063367434
    assert "e+" not in res.output and ".0 THB" not in res.output

    res = CliRunner().invoke(main, ["rank", "--province", "TH50", "--top", "2"], env=env)
    assert res.exit_code == 0, res.output
    head = res.output.split("\n\n", 1)[0]
    assert "notes: []" not in head and ": None" not in head and "round: 2566" in head
    th_lines = [ln for ln in res.output.splitlines() if ln.strip().startswith("TH: ")]
    en_lines = [ln for ln in res.output.splitlines() if ln.strip().startswith("EN: ")]
    assert len(th_lines) == len(en_lines) == 2
    assert "จำนวนคนจน" in res.output and "Poor people" in res.output
    out_lines = res.output.splitlines()
    assert out_lines.index(th_lines[0]) + 1 == out_lines.index(en_lines[0])  # Thai first
    for lang, present, absent in (("th", "จำนวนคนจน", "Poor people"),
                                  ("en", "Poor people", "จำนวนคนจน")):
        res = CliRunner().invoke(main, ["rank", "--province", "TH50", "--top", "2",
                                        "--lang", lang], env=env)
        assert res.exit_code == 0, res.output
        explained = res.output.split("\n\n", 1)[1]
        assert present in explained and absent not in explained


def test_api_rankings_public_vs_detail(store_app):
    client = store_app.test_client()
    public = client.get("/api/v1/rankings?province=TH50&level=village")
    assert public.status_code == 200, public.text
    pub = public.get_json()
    # villages of 4 households are suppressed for the public: not ranked, and said so
    assert any("suppressed" in n for n in pub["notes"])
    detail = client.get("/api/v1/rankings?province=TH50&level=village",
                        headers=token(store_app, "provincial", "TH50")).get_json()
    assert detail["total"] == 8 and pub["total"] < 8
    assert detail["previous_version"]
    weighted = client.get("/api/v1/rankings?province=TH50&w_n_poor=5",
                          headers=token(store_app, "national")).get_json()
    assert weighted["weights"]["components"][1]["weight"] == 5
    assert client.get("/api/v1/rankings?w_nope=1").status_code == 422
    assert client.get("/api/v1/rankings?level=planet").status_code == 422
    # intervals: the household bootstrap for callers who may see the province's detail,
    # binomial resampling of the public table for everyone else (even once a national
    # caller's answer sits in the response cache)
    nat = client.get("/api/v1/rankings?province=TH50&bootstrap=20", headers=token(
        store_app, "national")).get_json()
    assert nat["uncertainty"]["method"].startswith("Poisson household")
    pub = client.get("/api/v1/rankings?province=TH50&bootstrap=20").get_json()
    assert pub["uncertainty"]["method"].startswith("binomial")
    assert {i["code"] for i in pub["items"]} < {i["code"] for i in nat["items"]}
    other = token(store_app, "provincial", "TH10")
    theirs = client.get("/api/v1/rankings?province=TH50&bootstrap=20", headers=other)
    assert theirs.get_json()["uncertainty"]["method"].startswith("binomial")
    assert theirs.get_json()["items"] == pub["items"]
    boot = client.get("/api/v1/rankings?province=TH10&bootstrap=20&top_n=2", headers=other)
    assert boot.status_code == 200
    assert boot.get_json()["uncertainty"]["method"].startswith("Poisson household")
    assert sum(i["p_top_n"] for i in boot.get_json()["items"]) == pytest.approx(2.0)


def test_api_selection_targets_kpi(store_app):
    client = store_app.test_client()
    nat = token(store_app, "national")
    assert client.get("/api/v1/selection?province=TH50&budget=1000000").status_code == 401
    sel = client.get("/api/v1/selection?province=TH50&budget=1000000&costs=ind22=20000,"
                     "ind8=80000", headers=nat)
    assert sel.status_code == 200, sel.text
    body = sel.get_json()
    assert body["method"] == "milp" and body["total_cost_thb"] <= 1_000_000
    assert "top_of_ranking" in body
    villages = client.get("/api/v1/targets/villages?area=TH5001", headers=nat).get_json()
    assert villages["items"][0]["priority_rank"] == 1
    assert villages["items"][0]["province_name"]
    # household list: authorised only, audited
    assert client.get("/api/v1/targets/households?area=TH50").status_code == 401
    hh = client.get("/api/v1/targets/households?area=TH50", headers=nat)
    assert hh.status_code == 200
    items = hh.get_json()["items"]
    assert items and items[0]["visit_order"] == 1
    assert [i["n_deprivations"] for i in items] == sorted(i["n_deprivations"] for i in items)
    assert hh.headers["Cache-Control"].startswith("no-store")
    rows = user_store(store_app).audit_rows()
    assert any(r["action"] == "read_target_households" for r in rows)
    kpi = client.get("/api/v1/kpi?province=TH50", headers=nat).get_json()
    assert kpi["rounds"] == [2561, 2566]
    statuses = {i["status"] for i in kpi["items"] if i["round"] == 2566 and i["kpi"] == "m0"}
    assert statuses <= {"on_track", "behind"} and statuses


def test_bench_ranking_runs_on_a_store(store_app):
    from service.cli import main

    res = CliRunner().invoke(main, ["bench", "ranking", "--province", "TH50", "--replicates",
                                    "3", "--budget", "500000"], env=cli_env(store_app))
    assert res.exit_code == 0, res.output
    assert "bootstrap: vectorised" in res.output and "selection (target_poor" in res.output
    # same seed and household weights: the vectorised bootstrap must agree with the loop
    assert "P(top 10) difference| 0.00 " in res.output


def test_cli_rank_csv_file_has_bom_and_thai(store_app, tmp_path):
    from service.cli import main

    out = tmp_path / "rank.csv"
    res = CliRunner().invoke(main, ["rank", "--province", "TH10", "--level", "tambon",
                                    "--format", "csv", "--output", str(out)],
                             env=cli_env(store_app))
    assert res.exit_code == 0, res.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("priority_rank,")
    assert "คนจน" in text
