"""Admin code forms users type, TPMAP municipal pseudo-tambons and the DOPA 530407 code."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from ingest_support import (
    HEADER_TH,
    good_rows,
    seed_round,
    settings_for,
    write_csv,
    write_parquet,
    write_xlsx,
)

from service.ingest.run import ingest_files

TAMBON, LAT, LON, MOO = 4, 6, 7, 5
# representative points (inside the polygons of boundaries/tambons.parquet)
IN_TH750101 = ("13.401", "99.995")       # Mae Klong, amphoe TH7501
IN_TH750102 = ("13.3799", "99.9547")     # Bang Khan Taek, amphoe TH7501
IN_TH750201 = ("13.4759", "99.9523")     # Kradang Nga, amphoe TH7502
IN_TH530306 = ("17.9257", "100.599")     # Tha Faek (DOPA 530407)


class Capture:
    """build_version stand-in keeping the canonical persons."""

    def __init__(self) -> None:
        self.frames: list[pl.DataFrame] = []

    def __call__(self, settings, *, dataset, round, persons_dir, source_sha256, progress=False,
                 **_build_options):
        for f in sorted(Path(persons_dir, "persons").glob("*.parquet")):
            self.frames.append(pl.read_parquet(f))

        class _V:
            id = "v1"

        return _V()

    @property
    def persons(self) -> pl.DataFrame:
        return pl.concat(self.frames)


@pytest.fixture
def settings(tmp_path):
    return settings_for(tmp_path)


def run(settings, path, **kw):
    cap = Capture()
    report = ingest_files(settings, [path], dataset="t", round=2567, build=cap, **kw)
    return report, cap


def rows_at(n: int, tambon: str, point: tuple[str, str] | None, moo: str = "3"):
    rows = good_rows(n)
    for r in rows:
        r[TAMBON], r[MOO] = tambon, moo
        r[LAT], r[LON] = point if point is not None else ("", "")
    return rows


# ------------------------------------------------------------------ municipal pseudo-tambons


def test_municipal_codes_keep_amphoe_and_leave_the_tambon_to_the_point(settings, tmp_path):
    rows = rows_at(2, "750151", IN_TH750101) + rows_at(2, "TH750152", IN_TH750102)
    rows[2][0], rows[3][0] = good_rows(4)[2][0], good_rows(4)[3][0]
    rows += good_rows(6)[4:]                      # two ordinary rows of TH750101
    report, cap = run(settings, write_csv(tmp_path / "m.csv", rows))
    assert report.status == "created", report.summary()
    assert report.n_problems == 0 and report.n_accepted == 6
    assert dict(report.notice_counts) == {("tambon_code", "municipal_tambon"): 4}
    assert [(n["row"], n["value"]) for n in report.notices] == [
        (2, "750151"), (3, "750151"), (4, "TH750152"), (5, "TH750152")]
    listed = report.to_dict()["notice_counts"]
    assert listed[0]["count"] == 4 and listed[0]["reason_th"] and listed[0]["reason_en"]
    assert "municipal pseudo-tambon" in report.summary()
    got = cap.persons.sort("age")
    assert got["tambon_code"].to_list() == [None] * 4 + ["TH750101"] * 2
    assert got["amphoe_code"].to_list() == ["TH7501"] * 6
    assert got["province_code"].to_list() == ["TH75"] * 6
    # a village code needs a real tambon: none is invented from the pseudo-tambon
    assert got["village_id"].to_list() == [None] * 4 + ["TH75010103"] * 2


def test_municipal_rows_end_in_the_tambon_of_their_point(settings, tmp_path):
    """What service.pipeline does with them: the point gives the tambon, hence the amphoe."""
    import geopandas as gpd

    from service.geo.locate import TambonLocator
    from service.pipeline import locate_frame

    rows = rows_at(2, "750151", IN_TH750101) + rows_at(2, "750151", IN_TH750102)
    for i, r in enumerate(rows):
        r[0], r[3], r[8] = good_rows(4)[i][0], f"7501{i:07d}", str(30 + i)
    _report, cap = run(settings, write_csv(tmp_path / "m.csv", rows))
    tambons = gpd.read_parquet(Path(settings["boundaries_dir"]) / "tambons.parquet")
    locator = TambonLocator(tambons[tambons["province_code"] == "TH75"].reset_index(drop=True))
    located, rep = locate_frame(cap.persons.sort("age"), locator)
    assert located["tambon_located"].to_list() == ["TH750101"] * 2 + ["TH750102"] * 2
    assert located["locate_source"].to_list() == ["point"] * 4
    assert located["tambon_located"].str.slice(0, 6).unique().to_list() == ["TH7501"]
    assert rep["point_disagrees_with_record"] == 0


def test_municipal_point_outside_the_amphoe_is_flagged(settings, tmp_path):
    rows = rows_at(3, "750151", IN_TH750101)
    rows[1][LAT], rows[1][LON] = IN_TH750201
    report, cap = run(settings, write_csv(tmp_path / "o.csv", rows))
    assert report.status == "created" and report.n_problems == 0
    outside = [n for n in report.notices if n["code"] == "outside_amphoe"]
    assert [(n["row"], n["column"]) for n in outside] == [(3, "lon")]
    assert "TH750201" in outside[0]["value"]
    assert report.notice_counts[("lon", "outside_amphoe")] == 1
    assert cap.persons.height == 3


def test_municipal_row_that_cannot_be_placed_is_a_problem(settings, tmp_path):
    rows = rows_at(4, "750151", IN_TH750101)
    rows[1][LAT], rows[1][LON] = "", ""                     # no coordinates
    rows[2][LAT], rows[2][LON] = "13.25", "99.965"          # at sea, inside the 2 km buffer
    report, cap = run(settings, write_csv(tmp_path / "u.csv", rows), policy="quarantine")
    assert {(p["row"], p["column"], p["code"]) for p in report.problems} == {
        (3, "tambon_code", "municipal_unlocated"), (4, "tambon_code", "municipal_unlocated")}
    assert report.n_accepted == 2 and cap.persons.height == 2
    # only accepted rows are counted as municipal notices
    assert report.notice_counts[("tambon_code", "municipal_tambon")] == 2


@pytest.mark.parametrize("code", ["759951", "750140", "TH750199X"])
def test_unknown_amphoe_or_low_tambon_digits_stay_errors(settings, tmp_path, code):
    rows = rows_at(2, code, IN_TH750101)
    report, _cap = run(settings, write_csv(tmp_path / "x.csv", rows), policy="quarantine")
    assert {p["code"] for p in report.problems} == (
        {"bad_code"} if code.endswith("X") else {"unknown_tambon"})
    assert not report.notice_counts


def test_municipal_rows_respect_the_uploaders_province(settings, tmp_path):
    rows = rows_at(2, "750151", IN_TH750101)
    seed_round(settings)
    report, _cap = run(settings, write_csv(tmp_path / "w.csv", rows), allowed_province="TH10")
    assert report.status == "rejected" and report.forbidden


# ------------------------------------------------------------------------- DOPA 530407


@pytest.mark.parametrize("code", ["530407", "TH530407", "th530407", "530407.0", "530306"])
def test_dopa_530407_is_codab_th530306(settings, tmp_path, code):
    header = [*HEADER_TH, "รหัสอำเภอ", "รหัสจังหวัด"]
    amphoe = "5303" if code == "530306" else "5304"   # DOPA's amphoe of 530407 is 5304
    rows = [[*r, amphoe, "53"] for r in rows_at(2, code, IN_TH530306, moo="2")]
    report, cap = run(settings, write_csv(tmp_path / "d.csv", rows, header=header))
    assert report.status == "created", report.summary()
    got = cap.persons
    assert got["tambon_code"].unique().to_list() == ["TH530306"]
    assert got["amphoe_code"].unique().to_list() == ["TH5303"]
    assert got["village_id"].unique().to_list() == ["TH53030602"]
    assert not report.notice_counts


def test_dopa_village_code_of_530407(settings, tmp_path):
    header = ["person_id", "hh_id", "รหัสหมู่บ้าน", "อายุ", "เพศ"]
    rows = [["p1", "h1", "53040705", "30", "ชาย"], ["p2", "h1", "TH53040705", "31", "หญิง"]]
    report, cap = run(settings, write_csv(tmp_path / "v.csv", rows, header=header))
    assert report.status == "created", report.summary()
    assert cap.persons["village_id"].to_list() == ["TH53030605"] * 2
    assert cap.persons["tambon_code"].to_list() == ["TH530306"] * 2


# ------------------------------------------------------------------------ typed forms


GOOD_FORMS = ["750101", "TH750101", "th750101", " Th750101 ", "75 01 01", "75-01-01",
              "750101.0", "750101.00"]


@pytest.mark.parametrize("form", GOOD_FORMS)
def test_tambon_code_forms_in_csv(settings, tmp_path, form):
    header = [*HEADER_TH, "รหัสอำเภอ", "รหัสจังหวัด"]
    rows = [[*r, "7501.0", "TH75"] for r in rows_at(2, form, IN_TH750101)]
    report, cap = run(settings, write_csv(tmp_path / "f.csv", rows, header=header))
    assert report.status == "created", report.summary()
    assert cap.persons["tambon_code"].to_list() == ["TH750101"] * 2
    assert cap.persons["village_id"].to_list() == ["TH75010103"] * 2


@pytest.mark.parametrize("form", ["7501011", "75010", "750101.5", "TH75O101", "TH-TH750101",
                                  "1.10101E+5"])
def test_ambiguous_or_malformed_codes_are_refused(settings, tmp_path, form):
    rows = rows_at(2, form, IN_TH750101)
    report, _cap = run(settings, write_csv(tmp_path / "b.csv", rows), policy="quarantine")
    assert report.n_accepted == 0
    tambon = [p for p in report.problems if p["column"] == "tambon_code"]
    assert [p["row"] for p in tambon] == [2, 3]
    assert {p["code"] for p in tambon} <= {"bad_code", "unknown_tambon"}
    assert tambon[0]["value"] == form
    # the village code built from it (moo 3) is malformed too, and said so
    assert {(p["column"], p["code"]) for p in report.problems if p not in tambon} <= {
        ("village_id", "bad_code")}


def test_numeric_cells_in_xlsx_and_float_parquet(settings, tmp_path):
    rows: list[list] = rows_at(4, "x", IN_TH750101)
    rows[0][TAMBON], rows[1][TAMBON] = 750101, 750101.0       # Excel number cells
    rows[2][TAMBON], rows[3][TAMBON] = 750151, "750101"       # municipal as a number
    for r in rows:
        r[MOO] = 3
    report, cap = run(settings, write_xlsx(tmp_path / "n.xlsx", rows))
    assert report.status == "created", report.summary()
    got = cap.persons.sort("age")
    assert got["tambon_code"].to_list() == ["TH750101", "TH750101", None, "TH750101"]
    assert got["amphoe_code"].unique().to_list() == ["TH7501"]

    frame = pl.DataFrame(rows_at(2, "0", IN_TH750101), schema=HEADER_TH, orient="row")
    frame = frame.with_columns(pl.Series("รหัสตำบล", [750101.0, 750151.0]),
                               pl.Series("หมู่ที่", [3.0, 3.0]))
    path = tmp_path / "f.parquet"
    frame.write_parquet(path)
    report, cap = run(settings, path)
    assert report.status == "created", report.summary()
    assert cap.persons.sort("age")["tambon_code"].to_list() == ["TH750101", None]
    assert report.notice_counts[("tambon_code", "municipal_tambon")] == 1


def test_docs_list_every_notice():
    from service.ingest.validate import NOTICES
    from service.settings import REPO_ROOT

    doc = (REPO_ROOT / "docs" / "ingest.md").read_text(encoding="utf-8")
    assert [code for code in NOTICES if f"`{code}`" not in doc] == []
    assert "`municipal_unlocated`" in doc


def test_write_parquet_helper_still_round_trips(settings, tmp_path):
    report, cap = run(settings, write_parquet(tmp_path / "p.parquet",
                                              rows_at(2, "TH750151", IN_TH750102)))
    assert report.status == "created" and cap.persons["tambon_code"].null_count() == 2
