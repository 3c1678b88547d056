"""Exporters: CSV with BOM, XLSX, GeoJSON, GeoPackage; formula neutralisation; file names."""

from __future__ import annotations

import csv
import io
import json
import urllib.parse

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from service.errors import InvalidInput
from service.export import EXPORTERS, content_disposition, export_frame, make_filename, neutralise

HOSTILE = ["=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=x", "\r=x",
           "=HYPERLINK(\"http://evil\")"]


def _frame():
    return pd.DataFrame({
        "code": ["TH50", "TH10", "TH57", "TH11", "TH12", "TH13", "TH14"],
        "name_th": ["เชียงใหม่", "กรุงเทพมหานคร", "เชียงราย", *HOSTILE[:4]],
        "note": HOSTILE,
        "n_households": [1200, 35, 0, 7, 8, 9, 10],
        "delta": [-5.5, 0.25, -1.0, 2.0, 3.0, 4.0, float("nan")],
    })


def _geo():
    f = _frame().iloc[:3].copy()
    return gpd.GeoDataFrame(f, geometry=[shapely.box(98 + i, 18, 98.5 + i, 18.5)
                                         for i in range(3)], crs="EPSG:4326")


def test_registry_has_the_four_formats():
    assert set(EXPORTERS) == {"csv", "xlsx", "geojson", "gpkg"}
    with pytest.raises(InvalidInput, match="unknown export format"):
        export_frame(_frame(), "xls")


def test_csv_has_bom_thai_and_no_live_formulas():
    data = export_frame(_frame(), "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0]["name_th"] == "เชียงใหม่"
    for row in rows:
        for key in ("name_th", "note"):
            assert not row[key].startswith(("=", "+", "-", "@", "\t", "\r")), row
    assert rows[0]["note"] == "'=1+2"
    # numbers stay numbers: a negative number keeps its minus sign
    assert [r["delta"] for r in rows[:3]] == ["-5.5", "0.25", "-1.0"]
    assert rows[0]["n_households"] == "1200"


def test_xlsx_numbers_numeric_text_never_formula():
    wb = load_workbook(io.BytesIO(export_frame(_frame(), "xlsx", layer="พื้นที่")))
    ws = wb.active
    assert ws.title == "พื้นที่"
    header = [c.value for c in ws[1]]
    assert header == ["code", "name_th", "note", "n_households", "delta"]
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f", cell.value
    assert ws["C2"].value == "'=1+2" and ws["C2"].data_type == "s"
    assert ws["D2"].value == 1200 and ws["D2"].data_type == "n"
    assert ws["E2"].value == -5.5 and ws["E2"].data_type == "n"
    assert ws["E8"].value is None  # NaN -> empty cell
    assert ws["B2"].value == "เชียงใหม่"


def test_geojson_and_gpkg_round_trip(tmp_path):
    gj = json.loads(export_frame(_geo(), "geojson"))
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 3
    assert gj["features"][0]["properties"]["name_th"] == "เชียงใหม่"
    path = tmp_path / "x.gpkg"
    path.write_bytes(export_frame(_geo(), "gpkg", layer="areas"))
    back = gpd.read_file(path, layer="areas")
    assert list(back["code"]) == ["TH50", "TH10", "TH57"]
    assert back.crs.to_epsg() == 4326
    assert back.geometry.iloc[0].equals(_geo().geometry.iloc[0])


def test_spatial_formats_need_geometry_but_accept_lon_lat():
    with pytest.raises(InvalidInput, match="geometry"):
        export_frame(_frame(), "geojson")
    pts = pd.DataFrame({"village_id": ["TH50010101"], "lon": [98.9], "lat": [18.8]})
    gj = json.loads(export_frame(pts, "geojson"))
    assert gj["features"][0]["geometry"]["coordinates"] == [98.9, 18.8]


def test_filenames_thai_and_safe():
    ascii_name, uni = make_filename(["chipao", "demo", "เชียงใหม่", "../../etc/passwd", "tambon"],
                                    "csv")
    assert uni == "chipao_demo_เชียงใหม่_etc_passwd_tambon.csv"
    assert ascii_name == "chipao_demo_etc_passwd_tambon.csv"
    assert "/" not in ascii_name and ".." not in uni
    header = content_disposition(ascii_name, uni)
    assert header.startswith('attachment; filename="chipao_demo_etc_passwd_tambon.csv"')
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert urllib.parse.unquote(encoded) == uni
    assert all(ord(ch) < 128 for ch in header)
    assert content_disposition("a.csv", "a.csv") == 'attachment; filename="a.csv"'


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=12), st.integers(-10**9, 10**9),
                          st.floats(allow_nan=False, allow_infinity=False, width=32)),
                min_size=1, max_size=8))
def test_property_no_cell_starts_with_formula_char(values):
    frame = pd.DataFrame({"v": pd.Series(values, dtype=object)})
    rows = list(csv.reader(io.StringIO(export_frame(frame, "csv").decode("utf-8-sig"),
                                       newline="")))
    for value, (cell,) in zip(values, rows[1:], strict=True):
        if isinstance(value, str):
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
            assert cell == neutralise(value)
        else:
            assert float(cell) == pytest.approx(float(value))


# -- target lists as files (service.export.targets) -------------------------------------------
def _villages() -> pd.DataFrame:
    return pd.DataFrame({
        "level": "village",
        "code": ["TH10010101", "TH10010102", "TH10010103", "TH10010104", "TH10010201"],
        "name_th": ["=HYPERLINK(\"x\")", "บ้านสอง", "บ้านสาม", "บ้านสี่", "บ้านห้า"],
        "province_code": "TH10",
        "n_households": [3, 40, 30, 20, 50], "n_persons": [9, 100, 80, 50, 120],
        "n_poor": [3, 10, 20, 5, 30], "sum_c_poor": [1.5, 4.0, 9.0, 2.0, 12.0],
        "n_cdep_ind22": [3, 8, 3, 0, 10], "lon": [100.51, 100.52, 100.53, 100.54, 100.6],
        "lat": [13.71, 13.72, 13.73, 13.74, 13.8],
    })


def test_village_targets_public_view_ranks_visible_and_hides_suppressed():
    from service.analysis.disclosure import suppress
    from service.analysis.rank import rank_areas
    from service.analysis.targets import village_list
    from service.export.targets import village_targets

    public = suppress(_villages(), min_households=10, level="village")
    hidden = set(public.loc[public["suppressed"], "code"])
    assert "TH10010101" in hidden  # 3 households
    out = village_targets(public, "TH100101")
    assert set(out["village_id"]) == {f"TH1001010{i}" for i in range(1, 5)}
    n_shown = 4 - len(hidden & set(out["village_id"]))
    shown, tail = out.iloc[:n_shown], out.iloc[n_shown:]
    assert not shown["suppressed"].any() and tail["suppressed"].all()
    assert tail["n_households"].isna().all() and tail["lon"].isna().all()
    assert tail["priority_rank"].isna().all()
    # visible villages: exactly the ranking of the visible rows (as /targets/villages does)
    visible = public[~public["suppressed"] & public["code"].str.startswith("TH100101")]
    expected = village_list(visible, ranking=rank_areas(visible.reset_index(drop=True),
                                                         explain=False))
    assert shown["village_id"].tolist() == expected["village_id"].tolist()
    assert shown["priority_rank"].tolist() == list(range(1, n_shown + 1))
    assert shown["lon"].tolist() == visible.set_index("code").loc[
        shown["village_id"], "lon"].tolist()
    # detail view: every village ranked, none suppressed
    full = village_targets(_villages(), "TH100101")
    assert not full["suppressed"].any()
    assert sorted(full["priority_rank"].tolist()) == [1, 2, 3, 4]


def test_village_targets_files_points_and_neutralised_text():
    from service.analysis.disclosure import suppress
    from service.export.targets import village_targets, with_points

    out = village_targets(_villages(), "TH1001")
    rows = list(csv.DictReader(io.StringIO(export_frame(out, "csv").decode("utf-8-sig"))))
    assert {r["name_th"] for r in rows} >= {"'=HYPERLINK(\"x\")", "บ้านห้า"}
    assert all(int(r["n_households"]) > 0 for r in rows)  # numbers stay numbers
    public = village_targets(suppress(_villages(), min_households=10), "TH1001")
    gj = json.loads(export_frame(with_points(public), "geojson"))
    by_id = {f["properties"]["village_id"]: f for f in gj["features"]}
    assert by_id["TH10010101"]["geometry"] is None  # suppressed: no point
    assert by_id["TH10010201"]["geometry"]["coordinates"] == [100.6, 13.8]
    from service.errors import NotFound

    with pytest.raises(NotFound):
        village_targets(_villages(), "TH2001")


def test_household_targets_are_the_target_list_without_coordinates():
    import polars as pl

    from service.analysis.targets import household_list
    from service.export.targets import check_household_format, household_targets

    persons = pl.DataFrame({
        "hh_id": ["a", "a", "b", "c"], "village_id": ["TH10010101"] * 3 + ["TH10010201"],
        "mpi_c": [0.5, 0.1, 0.4, 0.6], "mpi_poor": [True, False, True, True],
        "dep_ind22": [1, 0, 1, 1], "dep_ind8": [1, 0, 0, 1],
        "lon": [100.5, 100.5, 100.6, 100.7], "lat": [13.7, 13.7, 13.8, 13.9],
    })
    out = household_targets(persons, "TH100101")
    assert out["hh_id"].tolist() == ["b", "a"]  # one deprivation before two
    assert "lon" not in out and "lat" not in out
    pd.testing.assert_frame_equal(out, household_list(persons, area="TH100101"))
    with pytest.raises(InvalidInput, match="area"):
        household_targets(persons, "TH1")
    check_household_format("csv")
    check_household_format("xlsx")
    for fmt in ("geojson", "gpkg"):
        with pytest.raises(InvalidInput, match="CSV or XLSX|csv or xlsx"):
            check_household_format(fmt)
