"""Import of TPMAP's published tables (service.ingest.tpmap): the three provinces as published
give Chipao area tables equal to the published figures; corrupted copies give clear errors
and store nothing; the same files again create no new version."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import polars as pl
import pytest

from service.ingest.tpmap import (
    COMMON_COUNTS,
    DIMENSIONS,
    FULL_MASK,
    INDICATORS,
    MASKS,
    import_tpmap,
)
from service.settings import load_settings
from service.store.store import open_store

PUBLISHED = Path("/work/shared/data/tpmap2561-published")
if not PUBLISHED.exists():  # the data live next to the repository in other checkouts
    PUBLISHED = Path(__file__).resolve().parents[2] / "shared" / "data" / "tpmap2561-published"
pytestmark = pytest.mark.skipif(not PUBLISHED.exists(), reason="TPMAP published tables absent")
ID = {"amphur": "amphur_ID", "tambol": "tumbol_ID", "village": "village_ID"}


def settings_for(tmp: Path) -> dict:
    return load_settings({"data_dir": str(tmp / "var")})


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """The three provinces imported once (dataset ``tpmap``)."""
    tmp = tmp_path_factory.mktemp("tpmap")
    settings = settings_for(tmp)
    report = import_tpmap(settings, PUBLISHED, dataset="tpmap", round=2561)
    assert report.status == "created", report.summary()
    return settings, report


def published(level: str, suffix: str, province: str | None = None) -> pl.DataFrame:
    provinces = [province] if province else ["58", "50", "34"]
    return pl.concat([pl.read_csv(PUBLISHED / f"61_{p}_{level}_{suffix}.csv",
                                  infer_schema_length=0) for p in provinces])


def expected_columns(suffix: str) -> dict[str, str]:
    """Published column -> Chipao column, written out here independently of the importer."""
    if suffix == "common":
        return dict(COMMON_COUNTS)
    out = {"poor.household.CNT": f"n_dep_hh_m{suffix}", "poor.JPT.CNT": f"n_dep_m{suffix}",
           "poor.JPT.MOFreg.CNT": f"n_dep_reg_m{suffix}",
           "poor.JPT.MOFval.CNT": f"n_tp_m{suffix}"}
    if suffix == FULL_MASK:
        out.update({f"poor.JPT.MOFval.{d}": f"n_target_poor_{d}" for d in DIMENSIONS})
        out.update({f"poor.JPT.MOFval.ind{n}.CNT": f"n_tp_ind{n}" for n in INDICATORS})
        out["poor.JPT.MOFval.CNT"] = "n_target_poor"
    return out


@pytest.mark.parametrize("level,file_level", [("amphoe", "amphur"), ("tambon", "tambol")])
def test_every_tambon_and_amphoe_equals_the_published_figures(imported, level, file_level):
    settings, _ = imported
    store = open_store(settings)
    ours = pl.from_pandas(store.read_areas("tpmap", level))
    n_compared = 0
    for suffix in ("common",) + MASKS:
        pub = published(file_level, suffix)
        if file_level == "tambol":  # municipal pseudo-tambons are counted in the amphoe only
            pub = pub.filter(pl.col(ID[file_level]).str.slice(4, 2).cast(pl.Int32) < 51)
        cols = expected_columns(suffix)
        pub = pub.select((pl.lit("TH") + pl.col(ID[file_level])).alias("code"),
                         *[pl.col(k).cast(pl.Int64).alias(v) for k, v in cols.items()])
        got = ours.select("code", *[pl.col(v).cast(pl.Int64) for v in cols.values()])
        assert sorted(got["code"]) == sorted(pub["code"])
        joined = pub.join(got, on="code", suffix="_ours")
        for v in cols.values():
            diff = joined.filter(pl.col(v) != pl.col(f"{v}_ours"))
            assert diff.is_empty(), (suffix, v, diff.head(3))
            n_compared += joined.height
    assert n_compared > 0


def test_villages_sum_suffixes_and_leave_municipal_ones_to_the_amphoe(imported):
    settings, report = imported
    store = open_store(settings)
    villages = store.read_areas("tpmap", "village", province="TH58")
    pub = published("village", "common", "58").with_columns(pl.col("household.CNT").cast(int))
    real = pub.filter(pl.col("village_ID").str.slice(4, 2).cast(pl.Int32) < 51)
    # 5803020601 and 5803020602 are one village TH58030206 (8-digit DOPA code)
    two = real.filter(pl.col("village_ID").str.starts_with("58030206"))
    assert two.height == 2
    row = villages[villages["code"] == "TH58030206"]
    assert int(row["n_households"].iloc[0]) == int(two["household.CNT"].sum())
    assert row["parent_code"].iloc[0] == "TH580302"
    assert row["name_th"].iloc[0].startswith("หมู่ 6 ต.")
    assert not villages["code"].str[6:8].astype(int).ge(51).any()
    assert int(villages["n_households"].sum()) == int(real["household.CNT"].sum())
    province = store.read_areas("tpmap", "province")
    total = int(province.loc[province["code"] == "TH58", "n_households"].iloc[0])
    assert total == int(pub["household.CNT"].sum())  # municipal villages still counted
    assert report.municipal["tambons"] == 12 and report.municipal["villages"] == 298


def test_version_is_published_kind_with_available_measures(imported):
    settings, report = imported
    store = open_store(settings)
    version = store.current("tpmap")
    assert version.meta["kind"] == "published"
    available = set(version.meta["measures_available"])
    assert {"n_households", "n_persons", "n_target_poor", "n_target_poor_income",
            "n_tp_m10000", "n_tp_m11111", "n_fail_ind22", "n_app_ind22", "n_elderly",
            "n_disabled", "n_chronic", "n_welfare_card", "n_welfare_card_registered",
            "n_dep_hh_m01000"} <= available
    # measures that need persons are absent (not zero)
    columns = store.area_columns("tpmap", "tambon")
    for absent in ("n_poor", "m0", "h", "sum_c_poor", "n_poor_households", "n_excl_welfare_card"):
        assert absent not in columns and absent not in available
    country = store.read_areas("tpmap", "country").iloc[0]
    assert version.n_persons == int(country["n_persons"])
    assert int(country["n_target_poor"]) == int(
        published("amphur", FULL_MASK)["poor.JPT.MOFval.CNT"].cast(int).sum())
    # per-mask indicator counts are kept in the side table
    side = pl.read_parquet(store.version_dir("tpmap") / "published" / "tambon" / "*.parquet")
    assert side.height == 457 * 30  # every tambon x every mask but the full one
    pub = published("tambol", "01000", "58").filter(pl.col("tumbol_ID") == "580102")
    row = side.filter((pl.col("code") == "TH580102") & (pl.col("mask") == "01000"))
    assert int(row["n_tp_ind8"][0]) == int(pub["poor.JPT.MOFval.ind8.CNT"][0])


def test_same_files_again_are_existing(imported):
    settings, report = imported
    again = import_tpmap(settings, PUBLISHED, dataset="tpmap", round=2561)
    assert again.status == "existing"
    assert again.version_id == report.version_id
    assert again.source_sha256 == report.source_sha256
    assert len(open_store(settings).versions("tpmap")) == 1


# -- corrupted copies ----------------------------------------------------------------------
@pytest.fixture
def copy58(tmp_path):
    """A private copy of Mae Hong Son's 96 files."""
    out = tmp_path / "files"
    out.mkdir()
    for path in PUBLISHED.glob("61_58_*.csv"):
        shutil.copy(path, out / path.name)
    return out


def edit(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell (row = CSV line number, header = 1)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    rows[row - 1][rows[0].index(column)] = value
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_MINIMAL).writerows(rows)


def rejected(tmp_path, directory) -> tuple[list[dict], dict]:
    settings = settings_for(tmp_path)
    report = import_tpmap(settings, directory, dataset="tpmap", round=2561)
    assert report.status == "rejected"
    store = open_store(settings)
    assert store.catalog.versions("tpmap") == []  # nothing stored
    assert not list((Path(settings["data_dir"]) / "datasets").glob("tpmap/r*"))
    assert not list((Path(settings["data_dir"]) / "tmp").glob("tpmap-*"))
    return report.problems, report.to_dict()


def find(problems, code):
    hits = [p for p in problems if p["code"] == code]
    assert hits, f"no {code} problem in {problems[:5]}"
    return hits


def test_negative_and_text_counts_name_file_row_column(tmp_path, copy58):
    edit(copy58 / "61_58_tambol_common.csv", 3, "ELDERLY_CNT", "-5")
    edit(copy58 / "61_58_village_10100.csv", 7, "poor.JPT.CNT", "สิบ")
    problems, report = rejected(tmp_path, copy58)
    neg = find(problems, "not_integer")
    where = {(p["file"], p["row"], p["column"], p["value"]) for p in neg}
    assert ("61_58_tambol_common.csv", 3, "ELDERLY_CNT", "-5") in where
    assert ("61_58_village_10100.csv", 7, "poor.JPT.CNT", "สิบ") in where
    assert all(p["reason_th"] and p["reason_en"] for p in neg)
    assert "non-negative whole number" in neg[0]["reason_en"]


def test_missing_file_and_missing_column(tmp_path, copy58):
    (copy58 / "61_58_amphur_00111.csv").unlink()
    path = copy58 / "61_58_village_common.csv"
    text = path.read_text(encoding="utf-8").splitlines()
    text[0] = text[0].replace('"DISABLED_CNT"', '"DISABLED"')
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    problems, _ = rejected(tmp_path, copy58)
    assert find(problems, "missing_file")[0]["file"] == "61_58_amphur_00111.csv"
    missing = find(problems, "missing_column")[0]
    assert (missing["file"], missing["row"], missing["column"]) == (
        "61_58_village_common.csv", 1, "DISABLED_CNT")
    assert find(problems, "unexpected_column")[0]["column"] == "DISABLED"


def test_villages_must_sum_to_their_tambon(tmp_path, copy58):
    path = copy58 / "61_58_village_common.csv"
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    row = 2
    old = int(rows[row - 1][rows[0].index("ELDERLY_CNT")])
    edit(path, row, "ELDERLY_CNT", str(old + 3))
    tambon = rows[row - 1][0][:6]
    problems, _ = rejected(tmp_path, copy58)
    hit = [p for p in find(problems, "sum_mismatch") if p["column"] == "ELDERLY_CNT"]
    assert hit and hit[0]["file"] == "61_58_tambol_common.csv"
    with open(copy58 / "61_58_tambol_common.csv", encoding="utf-8") as fh:
        trows = list(csv.reader(fh))
    assert trows[hit[0]["row"] - 1][0] == tambon
    assert "61_58_village_common.csv" in hit[0]["reason_en"]


def test_dimension_counts_cannot_exceed_totals(tmp_path, copy58):
    path = copy58 / "61_58_amphur_11000.csv"
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    total = int(rows[1][rows[0].index("poor.JPT.MOFval.CNT")])
    edit(path, 2, "poor.JPT.MOFval.health", str(total + 1))
    edit(copy58 / "61_58_amphur_10000.csv", 3, "poor.JPT.MOFval.income", "4")
    problems, _ = rejected(tmp_path, copy58)
    over = [p for p in find(problems, "exceeds_total")
            if p["file"] == "61_58_amphur_11000.csv"]
    assert over and over[0]["row"] == 2 and over[0]["column"] == "poor.JPT.MOFval.health"
    dims = find(problems, "mask_dimension")
    assert any(p["file"] == "61_58_amphur_10000.csv" and p["row"] == 3
               and p["column"] == "poor.JPT.MOFval.income" for p in dims)


def test_codes_malformed_foreign_unknown(tmp_path, copy58):
    edit(copy58 / "61_58_tambol_common.csv", 4, "tumbol_ID", "58A102")
    edit(copy58 / "61_58_amphur_common.csv", 2, "amphur_ID", "5001")
    problems, _ = rejected(tmp_path, copy58)
    assert find(problems, "bad_code")[0]["value"] == "58A102"
    foreign = find(problems, "wrong_province")[0]
    assert (foreign["file"], foreign["row"], foreign["value"]) == (
        "61_58_amphur_common.csv", 2, "5001")


def test_unknown_tambon_code(tmp_path, copy58):
    # a tambon code that no boundary holds, renamed consistently in every file
    for path in copy58.glob("61_58_*.csv"):
        text = path.read_text(encoding="utf-8").replace('"580102', '"580149')
        path.write_text(text, encoding="utf-8")
    problems, _ = rejected(tmp_path, copy58)
    unknown = find(problems, "unknown_code")
    assert unknown[0]["file"] == "61_58_tambol_common.csv" and unknown[0]["value"] == "580149"


def test_wrong_round_and_bad_names(tmp_path, copy58):
    (copy58 / "61_58_village_11111.csv").rename(copy58 / "61_58_village_1111.csv")
    problems, _ = rejected(tmp_path, copy58)
    assert find(problems, "bad_file_name")[0]["file"] == "61_58_village_1111.csv"
    assert find(problems, "missing_file")[0]["file"] == "61_58_village_11111.csv"
    settings = settings_for(tmp_path)
    report = import_tpmap(settings, copy58, dataset="tpmap", round=2565)
    assert report.status == "rejected"
    assert find(report.problems, "wrong_round")


def test_command_line(tmp_path, copy58, monkeypatch):
    from click.testing import CliRunner

    from service.cli import main

    monkeypatch.setenv("CHIPAO_DATA_DIR", str(tmp_path / "var"))
    runner = CliRunner()
    ok = runner.invoke(main, ["import-tpmap", str(copy58), "--dataset", "tp58", "--round",
                              "2561"])
    assert ok.exit_code == 0, ok.output
    assert "imported" in ok.output and "นำเข้าแล้ว" in ok.output
    again = runner.invoke(main, ["import-tpmap", str(copy58), "--dataset", "tp58", "--round",
                                 "2561", "--json"])
    assert again.exit_code == 0 and '"status": "existing"' in again.output
    edit(copy58 / "61_58_tambol_common.csv", 3, "ELDERLY_CNT", "x")
    bad = runner.invoke(main, ["import-tpmap", str(copy58), "--dataset", "tp58b", "--round",
                               "2561"])
    assert bad.exit_code == 1
    assert "61_58_tambol_common.csv" in bad.output and "ELDERLY_CNT" in bad.output
