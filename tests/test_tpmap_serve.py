"""The three provinces of TPMAP's published tables, served: for authorised callers the area
API, map values and exports equal the published figures for every tambon and amphoe; the
public view passes the disclosure checks of person datasets (no count from fewer than the
minimum, nothing recoverable from a parent minus its published children) and more (no small
complement within a total, no small combination of dimensions from the mask counts)."""

from __future__ import annotations

import csv
import io
import itertools
import re

import numpy as np
import polars as pl
import pytest
from openpyxl import load_workbook
from test_tpmap import PUBLISHED, expected_columns, published

from service import create_app
from service.analysis.disclosure_published import INCIDENCE, MASK_BITS, mask_name
from service.api.auth import user_store
from service.ingest.tpmap import MASKS, import_tpmap

pytestmark = pytest.mark.skipif(not PUBLISHED.exists(), reason="TPMAP published tables absent")
MIN = 10
PROVINCES = ("TH58", "TH50", "TH34")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tpmap-serve")
    app = create_app({"testing": True, "data_dir": str(tmp / "var"),
                      "secret_key": "test-secret", "default_dataset": "tpmap"})
    report = import_tpmap(app.config["CHIPAO"], PUBLISHED, dataset="tpmap", round=2561)
    assert report.status == "created"
    with app.app_context():
        users = user_store(app)
        users.create_user("nat", "correct horse battery", "national", None)
        token = users.create_token("nat")[0]
    return app, {"Authorization": f"Bearer {token}"}


def _get(app, url, headers=None):
    r = app.test_client().get(url, headers=headers or {})
    assert r.status_code == 200, (url, r.get_data(as_text=True)[:300])
    return r


def _areas(app, level, province=None, headers=None) -> pl.DataFrame:
    q = f"&province={province}" if province else ""
    items = _get(app, f"/api/v1/areas/{level}?dataset=tpmap&limit=5000{q}", headers).get_json()
    frame = pl.DataFrame(items["items"], infer_schema_length=None)
    return frame.with_columns([pl.col(c).cast(pl.Float64) for c in frame.columns
                               if c.startswith("n_")])


def _published_level(file_level: str) -> dict[str, pl.DataFrame]:
    """Per suffix: code + Chipao columns, from the published files (municipal out)."""
    key = {"amphur": "amphur_ID", "tambol": "tumbol_ID"}[file_level]
    out = {}
    for suffix in ("common",) + MASKS:
        pub = published(file_level, suffix)
        if file_level == "tambol":
            pub = pub.filter(pl.col(key).str.slice(4, 2).cast(pl.Int32) < 51)
        cols = expected_columns(suffix)
        out[suffix] = pub.select((pl.lit("TH") + pl.col(key)).alias("code"),
                                 *[pl.col(k).cast(pl.Int64).alias(v) for k, v in cols.items()])
    return out


# -- authorised callers: the published numbers -------------------------------------------------
@pytest.mark.parametrize("level,file_level", [("amphoe", "amphur"), ("tambon", "tambol")])
def test_area_api_equals_published(served, level, file_level):
    app, national = served
    ours = pl.concat([_areas(app, level, p, national) for p in PROVINCES], how="diagonal_relaxed")
    for suffix, pub in _published_level(file_level).items():
        joined = pub.join(ours.select("code", *[pl.col(c).cast(pl.Int64) for c in pub.columns
                                                if c != "code"]), on="code", suffix="_api")
        assert joined.height == pub.height
        for c in pub.columns[1:]:
            assert (joined[c] == joined[f"{c}_api"]).all(), (suffix, c)


@pytest.mark.parametrize("level,file_level", [("amphoe", "amphur"), ("tambon", "tambol")])
def test_map_values_equal_published(served, level, file_level):
    app, national = served
    pub = _published_level(file_level)
    persons = dict(zip(pub["common"]["code"], pub["common"]["n_persons"], strict=True))
    for measure, suffix, column in (("tp_m01000", "01000", "n_tp_m01000"),
                                    ("tp_m10101", "10101", "n_tp_m10101"),
                                    ("tp_m00001", "00001", "n_tp_m00001"),
                                    ("target_poor_rate", "11111", "n_target_poor"),
                                    ("welfare_card_rate", "common", "n_welfare_card"),
                                    ("welfare_registered_rate", "common",
                                     "n_welfare_card_registered"),
                                    ("elderly_rate", "common", "n_elderly"),
                                    ("fail_ind22", "common", None)):
        got: dict[str, float] = {}
        for p in PROVINCES:
            body = _get(app, f"/maps/values/{level}.json?dataset=tpmap&scope={p}"
                             f"&measure={measure}", national).get_json()
            assert body["available"] is True
            got.update(zip(body["codes"], body["columns"]["value"], strict=True))
        frame = pub[suffix]
        assert set(got) == set(frame["code"])
        for row in frame.iter_rows(named=True):
            if column is None:
                want = row["n_fail_ind22"] / row["n_app_ind22"] if row["n_app_ind22"] else None
            else:
                want = row[column] / persons[row["code"]]
            assert got[row["code"]] == pytest.approx(want, rel=1e-3, abs=1e-6), (measure,
                                                                                  row["code"])
        if measure.startswith("tp_m") or measure == "target_poor_rate":
            # and TPMAP's own rate column (target poor per 100 surveyed), for every area
            rates = published(file_level, suffix)
            key = {"amphur": "amphur_ID", "tambol": "tumbol_ID"}[file_level]
            for code, rate in zip(rates[key], rates["JPT.MOFval.pov.rate"], strict=True):
                if "TH" + code in got:
                    assert 100 * got["TH" + code] == pytest.approx(float(rate), rel=1e-3,
                                                                   abs=1e-4), (measure, code)
    for p in PROVINCES:  # counts: exactly the published ones
        for measure, suffix, column in (("n_target_poor", "11111", "n_target_poor"),
                                        ("n_households", "common", "n_households")):
            body = _get(app, f"/maps/values/{level}.json?dataset=tpmap&scope={p}"
                             f"&measure={measure}", national).get_json()
            want = dict(zip(pub[suffix]["code"], pub[suffix][column], strict=True))
            assert body["codes"] and all(v == want[c] for c, v in zip(
                body["codes"], body["columns"]["value"], strict=True)), (measure, p)


def test_measures_that_need_persons_are_not_available(served):
    app, national = served
    for measure in ("h", "m0", "excl_welfare_card"):
        body = _get(app, f"/maps/values/tambon.json?dataset=tpmap&scope=TH58&measure={measure}",
                    national).get_json()
        assert body["available"] is False
        assert all(v is None for v in body["columns"]["value"])  # never 0
    area = _get(app, "/api/v1/areas/tambon/TH580102?dataset=tpmap", national).get_json()["area"]
    assert "n_poor" not in area and "m0" not in area
    assert area["n_target_poor"] is not None


@pytest.mark.parametrize("level,file_level", [("amphoe", "amphur"), ("tambon", "tambol")])
def test_exports_equal_published(served, level, file_level):
    app, national = served
    pub = _published_level(file_level)
    rows = []
    for p in PROVINCES:
        text = _get(app, f"/api/v1/exports/areas/{level}.csv?dataset=tpmap&province={p}",
                    national).get_data(as_text=True)
        rows += list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    by_code = {r["code"]: r for r in rows}
    for suffix in ("common", *MASKS):
        frame = pub[suffix]
        assert set(frame["code"]) == set(by_code)
        for row in frame.iter_rows(named=True):
            for c, v in row.items():
                if c != "code":
                    assert int(float(by_code[row["code"]][c])) == v, (suffix, c, row["code"])


@pytest.mark.parametrize("level,file_level", [("amphoe", "amphur"), ("tambon", "tambol")])
def test_xlsx_exports_equal_published(served, level, file_level):
    app, national = served
    pub = _published_level(file_level)
    got: dict[str, dict] = {}
    for p in PROVINCES:
        wb = load_workbook(io.BytesIO(_get(
            app, f"/api/v1/exports/areas/{level}.xlsx?dataset=tpmap&province={p}",
            national).data))
        ws = wb.worksheets[0]  # the API's workbook: one header row of column codes
        codes = [c.value for c in ws[1]]
        for row in ws.iter_rows(min_row=2, values_only=True):
            got[row[codes.index("code")]] = dict(zip(codes, row, strict=True))
    for suffix in ("common", "11111", "01010"):
        frame = pub[suffix]
        assert set(frame["code"]) == set(got)
        for row in frame.iter_rows(named=True):
            for c, v in row.items():
                if c != "code":
                    assert got[row["code"]][c] == v, (suffix, c, row["code"])


# -- the public view ---------------------------------------------------------------------------
def _count_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith("n_")]


@pytest.fixture(scope="module")
def public_tables(served):
    app, _ = served
    tables = {"country": _areas(app, "country"), "province": _areas(app, "province"),
              "amphoe": _areas(app, "amphoe")}
    tables["tambon"] = pl.concat([_areas(app, "tambon", p) for p in PROVINCES],
                                 how="diagonal_relaxed")
    tables["village"] = pl.concat([_areas(app, "village", p) for p in PROVINCES],
                                  how="diagonal_relaxed")
    return tables


def test_public_never_shows_a_count_of_one_to_nine(served, public_tables):
    app, _ = served
    for level, frame in public_tables.items():
        for c in _count_columns(frame):
            values = frame[c].drop_nulls()
            assert not ((values > 0) & (values < MIN)).any(), (level, c)
    # TPMAP published 1-4 target poor in villages: hidden, not shown
    raw = published("village", "11111")["poor.JPT.MOFval.CNT"].cast(int)
    assert ((raw > 0) & (raw < 5)).sum() > 100
    hidden = public_tables["village"]["n_target_poor"].null_count()
    assert hidden >= int(((raw > 0) & (raw < MIN)).sum()) * 0.8
    csv_text = _get(app, "/api/v1/exports/areas/tambon.csv?dataset=tpmap&province=TH50"
                    ).get_data(as_text=True)
    for row in csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff"))):
        for c, v in row.items():
            if c.startswith("n_") and v not in ("", None):
                assert not 0 < float(v) < MIN, (c, row["code"])


def test_public_parent_minus_children_reveals_nothing_small(public_tables):
    pairs = (("country", "province"), ("province", "amphoe"), ("amphoe", "tambon"),
             ("tambon", "village"))
    checked = n_remainder = 0
    for parent_level, child_level in pairs:
        parent, child = public_tables[parent_level], public_tables[child_level]
        cols = [c for c in _count_columns(child) if c in parent.columns]
        sums = child.group_by("parent_code").agg(
            [pl.col(c).sum().alias(f"{c}_sum") for c in cols]
            + [pl.col(c).is_null().any().alias(f"{c}_hidden") for c in cols])
        joined = parent.join(sums, left_on="code", right_on="parent_code", how="inner")
        for c in cols:
            some = joined.filter(pl.col(f"{c}_hidden") & pl.col(c).is_not_null())
            diff = some[c] - some[f"{c}_sum"]
            assert not ((diff > 0) & (diff < MIN)).any(), (parent_level, child_level, c)
            checked += some.height
            # every child shown: the remainder is the municipal pseudo-tambons (amphoe minus
            # its tambons), which have no row of their own; it must not be small either
            full = joined.filter(~pl.col(f"{c}_hidden") & pl.col(c).is_not_null())
            diff = full[c] - full[f"{c}_sum"]
            assert not ((diff > 0) & (diff < MIN)).any(), (parent_level, child_level, c)
            n_remainder += int((diff > 0).sum()) if parent_level == "amphoe" else 0
    assert checked > 1000
    assert n_remainder > 100  # municipal remainders exist and were checked


def test_public_complements_within_totals_are_not_small(public_tables):
    pairs = [("n_fail_ind22", "n_app_ind22"), ("n_elderly", "n_persons"),
             ("n_welfare_card", "n_persons"), ("n_tp_m11111", "n_dep_m11111"),
             ("n_dep_hh_m01000", "n_households")]
    for frame in public_tables.values():
        for part, total in pairs:
            both = frame.filter(pl.col(part).is_not_null() & pl.col(total).is_not_null())
            diff = both[total] - both[part]
            assert not ((diff > 0) & (diff < MIN)).any(), (part, total)


def _determined(published_masks: list[int]) -> np.ndarray:
    """Atoms (exact combinations of dimensions) determined by these masks' union counts."""
    if not published_masks:
        return np.zeros(31, dtype=bool)
    rows = INCIDENCE[[s - 1 for s in published_masks]]
    pinv = np.linalg.pinv(rows)
    projection = pinv @ rows  # projection onto the row space
    return np.abs(np.diag(projection) - 1) < 1e-6


def test_public_mask_counts_reveal_no_small_combination_of_dimensions(public_tables):
    """From the published union counts of one area, solve for the persons deprived in exactly
    each combination of dimensions (what an attacker does): none of 1-9 is determined, and no
    two published nested masks differ by 1-9."""
    n_checked = 0
    for level, frame in public_tables.items():
        for row in frame.iter_rows(named=True):
            if row.get("suppressed"):
                continue
            for fam in ("n_tp_m{m}", "n_dep_m{m}", "n_dep_reg_m{m}", "n_dep_hh_m{m}"):
                values = {s: row.get(fam.format(m=mask_name(s))) for s in MASK_BITS}
                shown = [s for s, v in values.items() if v is not None]
                det = _determined(shown)
                if det.any():
                    rows = INCIDENCE[[s - 1 for s in shown]]
                    atoms = np.linalg.lstsq(rows, np.array([values[s] for s in shown],
                                                           dtype=float), rcond=None)[0]
                    small = det & (np.round(atoms) > 0) & (np.round(atoms) < MIN)
                    assert not small.any(), (level, row["code"], fam)
                for a, b in itertools.permutations(shown, 2):
                    if a & b == a:  # a nested in b
                        d = values[b] - values[a]
                        assert not 0 < d < MIN, (level, row["code"], fam, a, b)
                n_checked += 1
    assert n_checked > 1000
    # the standard view (all five dimensions) is published for most tambons
    tam = public_tables["tambon"]
    assert tam["n_tp_m11111"].is_not_null().mean() > 0.7


# -- ranking, selection, target village list ---------------------------------------------------
def test_selection_reaches_target_poor_within_budget(served):
    app, national = served
    body = _get(app, "/api/v1/selection?dataset=tpmap&province=TH58&budget=3000000",
                national).get_json()
    assert body["objective"] == "target_poor"
    assert 0 < body["total_cost_thb"] <= 3_000_000
    assert body["total_benefit"] == sum(i["n_target_poor"] for i in body["items"])
    assert body["m0_fall"] is None  # needs persons: not available, not 0
    assert "estimated" in body["note"]
    villages = {r["code"]: r for r in _areas(app, "village", "TH58", national).iter_rows(
        named=True)}
    assert all(i["n_target_poor"] == villages[i["code"]]["n_target_poor"] for i in body["items"])
    r = app.test_client().get("/api/v1/selection?dataset=tpmap&province=TH58&budget=3000000"
                              "&objective=m0", headers=national)
    assert r.status_code == 422 and "not available for this dataset" in r.get_json()["detail"]


def test_ranking_and_target_village_list(served):
    app, national = served
    ranking = _get(app, "/api/v1/rankings?dataset=tpmap&level=tambon&province=TH58",
                   national).get_json()
    items = ranking["items"]
    assert len(items) == 44
    assert any("n_poor" in n for n in ranking["notes"])  # components left out, said so
    tp = [i["raw_n_target_poor"] for i in items]
    assert tp and tp[0] == max(tp)
    targets = _get(app, "/api/v1/targets/villages?dataset=tpmap&area=TH5801&limit=1000",
                   national).get_json()
    pub = published("village", "common", "58").filter(
        pl.col("village_ID").str.starts_with("5801")
        & (pl.col("village_ID").str.slice(4, 2).cast(pl.Int32) < 51))
    want = pub.group_by(pl.col("village_ID").str.slice(0, 8)).agg(
        pl.col("household.CNT").cast(pl.Int64).sum())
    got = {i["village_id"]: i["n_households"] for i in targets["items"]}
    assert got == {"TH" + k: v for k, v in want.iter_rows()}
    assert all("n_poor" not in i for i in targets["items"])


def test_pages_work_on_a_published_dataset(served):
    """Area profiles drew their small map from item-suppressed counts (pd.NA) and failed;
    the KPI page failed on a dataset without KPI measures: both answer now."""
    app, national = served
    client = app.test_client()
    for url in ("/areas/TH58?dataset=tpmap", "/areas/TH5801?dataset=tpmap",
                "/areas/TH580102?dataset=tpmap", "/maps/area/TH58?dataset=tpmap",
                "/ranking?dataset=tpmap&province=TH58"):
        for headers in ({}, national):
            r = client.get(url, headers=headers)
            assert r.status_code == 200, (url, r.status_code)
    for url in ("/kpi?dataset=tpmap", "/selection?dataset=tpmap&province=TH58&budget=1000000"):
        r = client.get(url, headers={**national, **HTML})
        assert r.status_code == 200, (url, r.status_code)  # both answered 404 before


# -- budget selection and KPI pages ------------------------------------------------------------
HTML = {"Accept": "text/html"}
NA = "not available for this dataset"


def _row(page: str, attr: str) -> str:
    start = page.index(attr)
    return page[start:page.index("</tr>", start)]


def _card(page: str, measure: str) -> str:
    start = page.index(f'data-measure="{measure}"')
    return re.sub(r"<[^>]+>", " ", page[start:page.index("</div></div>", start)])


def test_selection_page_reaches_target_poor(served):
    app, national = served
    client = app.test_client()
    q = "dataset=tpmap&province=TH58&budget=3000000"
    page = _get(app, f"/selection?{q}", {**national, **HTML}).get_data(as_text=True)
    api = _get(app, f"/api/v1/selection?{q}", national).get_json()
    assert "Target poor reached" in _card(page, "people_lifted")
    assert f"{api['total_benefit']:,.0f}" in _card(page, "people_lifted")
    assert NA in _card(page, "m0_fall") and "0.0" not in _card(page, "m0_fall")
    for method in ("milp", "greedy", "top"):  # the M0 column: not available, never 0
        cells = re.findall(r'<td class="num">(.*?)</td>', _row(page, f'data-method="{method}"'))
        assert NA in cells[-1], method
    # the chosen villages and their target poor: the published village figures
    pub = published("village", "11111", "58").with_columns(
        pl.col("village_ID").str.slice(0, 8).alias("v")).filter(
        pl.col("village_ID").str.slice(4, 2).cast(pl.Int32) < 51).group_by("v").agg(
        pl.col("poor.JPT.MOFval.CNT").cast(pl.Int64).sum())
    want = {"TH" + v: n for v, n in pub.iter_rows()}
    rows = re.findall(r'<tr data-code="(TH\d{8})">.*?</td><td class="num">([\d,]+)</td>', page,
                      flags=re.S)
    assert len(rows) == api["n_selected"] == len(api["items"]) > 0
    assert all(want[code] == int(n.replace(",", "")) for code, n in rows)
    assert {code for code, _ in rows} == {i["code"] for i in api["items"]}
    # the objective select offers only what the dataset supports
    assert re.search(r'<option value="m0"[^>]*disabled', page)
    assert re.search(r'<option value="target_poor" selected', page)
    # exports
    csv_text = _get(app, f"/selection.csv?{q}", national).get_data(as_text=True)
    codes = {r["village_id"] for r in csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))}
    assert codes == {i["code"] for i in api["items"]}
    wb = load_workbook(io.BytesIO(_get(app, f"/selection.xlsx?{q}", national).data))
    comparison = wb["เปรียบเทียบ"]
    assert "Target poor reached" in str(comparison.cell(2, 5).value)
    assert comparison.cell(3, 5).value == api["total_benefit"]
    r = client.get(f"/selection?{q}&objective=m0", headers={**national, **HTML})
    assert r.status_code == 422 and "person records" in r.get_data(as_text=True)


def _kpi_rows(page: str, code: str) -> dict[str, str]:
    section = page[page.index(f'id="kpi-{code}"'):]
    section = section[:section.index("</table>")]
    return {m.group(1): m.group(0) for m in re.finditer(r'<tr data-kpi="(\w+)".*?</tr>', section,
                                                        flags=re.S)}


def test_kpi_page_shows_what_published_tables_support(served):
    app, national = served
    page = _get(app, "/kpi?dataset=tpmap&province=TH50", {**national, **HTML}
                ).get_data(as_text=True)
    amphur = published("amphur", "common", "50")
    tp = int(published("amphur", "11111", "50")["poor.JPT.MOFval.CNT"].cast(pl.Int64).sum())
    persons = int(amphur["HOUSEMEMBER_CNT"].cast(pl.Int64).sum())
    reg = int(amphur["MOF_REG_CNT"].cast(pl.Int64).sum())
    val = int(amphur["MOF_VAL_CNT"].cast(pl.Int64).sum())
    rows = _kpi_rows(page, "TH50")
    assert f">{tp:,}<" in rows["n_target_poor"]
    assert f">{100 * tp / persons:.1f} %<" in rows["target_poor_rate"]
    assert f">{val:,}<" in rows["n_welfare_card"]
    assert f">{100 * reg / persons:.1f} %<" in rows["welfare_card_registered_rate"]
    assert f">{100 * val / reg:.1f} %<" in rows["welfare_card_validated_rate"]
    for kpi in ("m0", "m0_child", "cov_welfare_card", "n_excl_elderly_allowance"):
        assert NA in rows[kpi] and 'data-family="not_available"' in rows[kpi], kpi
        assert not re.search(r">\s*0(\.0+)?\s*(%)?<", rows[kpi]), kpi
    text = _get(app, "/kpi.csv?dataset=tpmap&province=TH50", national).get_data(as_text=True)
    got = {(r["province_code"], r["kpi"]): r for r in
           csv.DictReader(io.StringIO(text.lstrip("\ufeff")))}
    assert float(got[("TH50", "n_target_poor")]["value"]) == tp
    assert ("TH50", "m0") not in got  # not a zero row
    public = _get(app, "/kpi?dataset=tpmap", HTML).get_data(as_text=True)
    assert 'data-kpi="n_target_poor"' in public
    # the API gives the same rows (it answered an empty list before)
    items = _get(app, "/api/v1/kpi?dataset=tpmap&province=TH50", national).get_json()["items"]
    by_kpi = {i["kpi"]: i for i in items}
    assert by_kpi["n_target_poor"]["value"] == tp and by_kpi["n_target_poor"]["view"] == "detail"
    assert by_kpi["welfare_card_validated_rate"]["value"] == pytest.approx(val / reg)
    assert "m0" not in by_kpi
    assert {i["province_code"] for i in _get(app, "/api/v1/kpi?dataset=tpmap").get_json()[
        "items"]} == set(PROVINCES)


@pytest.fixture(scope="module")
def two_rounds(tmp_path_factory):
    """Mae Hong Son as round 2561, and again (amphoe happiness changed) as round 2562."""
    tmp = tmp_path_factory.mktemp("tpmap-rounds")
    app = create_app({"testing": True, "data_dir": str(tmp / "var"),
                      "secret_key": "test-secret", "default_dataset": "tpmap"})
    for rnd in (2561, 2562):
        src = tmp / f"r{rnd}"
        src.mkdir()
        for path in PUBLISHED.glob("61_58_*.csv"):  # file names start with the BE year
            (src / f"{rnd % 100}{path.name[2:]}").write_bytes(path.read_bytes())
        if rnd == 2562:  # the same counts, another mean happiness score (a new source)
            path = src / "62_58_amphur_common.csv"
            with open(path, encoding="utf-8", newline="") as f:
                rows = list(csv.reader(f))
            i = rows[0].index("happiness")
            for row in rows[1:]:
                row[i] = f"{float(row[i]) + 0.1:.4f}"
            with open(path, "w", encoding="utf-8", newline="") as f:  # as published
                f.write(",".join(f'"{c}"' for c in rows[0]) + "\n")
                csv.writer(f, lineterminator="\n").writerows(rows[1:])
        report = import_tpmap(app.config["CHIPAO"], src, dataset="tpmap", round=rnd)
        assert report.status == "created", report.problems[:3]
    return app


def test_kpi_page_per_round(two_rounds):
    app = two_rounds
    page = _get(app, "/kpi?dataset=tpmap&province=TH58", HTML).get_data(as_text=True)
    row = _kpi_rows(page, "TH58")["n_target_poor"]
    assert re.findall(r'data-status="(\w+)"', row) == ["baseline", "same"]
    assert "2561" in page and "2562" in page


def _map_config(app, url, headers=None) -> dict:
    import json

    page = _get(app, url, headers).get_data(as_text=True)
    return json.loads(re.search(r"chipaoMap\([^,]+, (\{.*\})\);", page).group(1))


def test_map_page_controls_on_a_published_dataset(served):
    """No k selector, no target groups, no H3 levels; the measures needing persons flagged
    not available; the dimension checkboxes; values say no k."""
    app, national = served
    for url in ("/maps/?dataset=tpmap", "/maps/area/TH58?dataset=tpmap"):
        cfg = _map_config(app, url, national)
        assert cfg["k_choices"] == [] and cfg["groups"] == []
        assert not any(lv["id"].startswith("h3_") for lv in cfg["levels"])
        off = {m["id"] for m in cfg["measures"] if m.get("available") is False}
        assert {"h", "m0", "a", "n_poor", "cov_welfare_card", "excl_welfare_card"} <= off
        on = {m["id"] for m in cfg["measures"]} - off
        assert {"target_poor_rate", "tp_m10000", "tp_m11111", "fail_ind22", "elderly_rate",
                "welfare_card_rate", "welfare_registered_rate", "priority_rank"} <= on
        assert [d["id"] for d in cfg["dimension_masks"]["dimensions"]] == [
            "health", "living", "education", "income", "accessibility"]
    assert "village" in {lv["id"] for lv in _map_config(
        app, "/maps/area/TH58?dataset=tpmap", national)["levels"]}
    r = app.test_client().get("/maps/area/TH58?dataset=tpmap&level=h3_r8", headers=national)
    assert r.status_code == 404 and "no H3 layers" in r.get_data(as_text=True)
    body = _get(app, "/maps/values/tambon.json?dataset=tpmap&scope=TH58&measure=tp_m10000",
                national).get_json()
    assert body["k"] is None


def test_public_target_village_list_shows_no_small_count(served):
    """The village target list (API and CSV) a public caller gets: no count of 1-9 target
    poor, none in the top failing indicators; authorised callers get TPMAP's figures."""
    app, national = served
    for p in PROVINCES:
        items = _get(app, f"/api/v1/targets/villages?dataset=tpmap&area={p}&limit=5000"
                     ).get_json()["items"]
        shown = [i["n_target_poor"] for i in items if i.get("n_target_poor") is not None]
        assert shown and not any(0 < v < MIN for v in shown), p
        for i in items:
            for n in re.findall(r"\(([\d,]+)\)", i.get("top_failing_indicators") or ""):
                assert not 0 < int(n.replace(",", "")) < MIN, (p, i["village_id"])
    text = _get(app, "/lists/villages.csv?dataset=tpmap&area=TH50").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows and not any(r["n_target_poor"] and 0 < float(r["n_target_poor"]) < MIN
                            for r in rows)
    raw = published("village", "11111", "58")["poor.JPT.MOFval.CNT"].cast(int)
    assert ((raw > 0) & (raw < MIN)).sum() > 50  # there were small counts to hide
    detail = _get(app, "/api/v1/targets/villages?dataset=tpmap&area=TH58&limit=5000",
                  national).get_json()["items"]
    pub = published("village", "11111", "58").filter(
        pl.col("village_ID").str.slice(4, 2).cast(pl.Int32) < 51).group_by(
        pl.col("village_ID").str.slice(0, 8)).agg(pl.col("poor.JPT.MOFval.CNT").cast(
            pl.Int64).sum())
    assert {i["village_id"]: i["n_target_poor"] for i in detail} == {
        "TH" + k: v for k, v in pub.iter_rows()}


# -- one public view: every consumer gives the rows of access.views.public_view ---------------
#: published columns compared (counts of every kind, hidden items as nulls)
PUB_COMPARED = ("n_households", "n_persons", "n_target_poor", "n_target_poor_health",
                "n_tp_m10000", "n_tp_m01100", "n_dep_m11111", "n_dep_hh_m00010",
                "n_fail_ind22", "n_app_ind22", "n_tp_ind22", "n_welfare_card",
                "n_welfare_card_registered", "n_elderly")


def _public(app, level, province=None):
    from service.access.views import public_view
    from service.api.services import services

    return public_view(services(app).store, "tpmap", level, province=province,
                       min_households=MIN, whole_country=True).sort_values("code").reset_index(
                           drop=True)


def _same_as_view(got, want, where: str) -> None:
    import pandas as pd

    got = got.sort_values("code").reset_index(drop=True)
    assert list(got["code"]) == list(want["code"]), where
    hidden = 0
    for col in PUB_COMPARED:
        a = pd.to_numeric(got[col].replace({"": None}), errors="coerce").to_numpy("float64")
        b = pd.to_numeric(want[col], errors="coerce").to_numpy("float64")
        np.testing.assert_array_equal(a, b, err_msg=f"{where} {col}")
        hidden += int(np.isnan(b).sum())
    return hidden


def test_public_consumers_give_the_public_view(served):
    """API listings, map values (counts and rates) and CSV exports that a public caller gets
    are the public view's rows at every level, hidden items null in each."""
    import pandas as pd

    app, _ = served
    client = app.test_client()
    hidden = 0
    for level in ("country", "province", "amphoe", "tambon", "village"):
        for prov in (None,) if level in ("country", "province") else PROVINCES:
            want = _public(app, level, prov)
            q = f"&province={prov}" if prov else ""
            items = _get(app, f"/api/v1/areas/{level}?dataset=tpmap&limit=5000{q}").get_json()
            hidden += _same_as_view(pd.DataFrame(items["items"]), want, f"api {level} {prov}")
            if level != "country":
                text = _get(app, f"/api/v1/exports/areas/{level}.csv?dataset=tpmap"
                                 + (f"&province={prov}" if prov else "")).get_data(as_text=True)
                rows = pd.DataFrame(list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")))))
                _same_as_view(rows, want, f"csv {level} {prov}")
            if level in ("province", "country", "village"):
                continue  # public village maps need a signed-in user
            for measure, col in (("n_target_poor", "n_target_poor"),
                                 ("tp_m01100", "n_tp_m01100")):
                body = client.get(f"/maps/values/{level}.json?dataset=tpmap&scope={prov}"
                                  f"&measure={measure}").get_json()
                got = dict(zip(body["codes"], body["columns"]["value"], strict=True))
                assert set(got) == set(want["code"]), (level, prov, measure)
                for code, n, persons in zip(want["code"], want[col], want["n_persons"],
                                            strict=True):
                    if pd.isna(n) or pd.isna(persons):
                        assert got[code] is None, (level, code, measure)  # hidden: null, not 0
                    elif measure.startswith("n_"):
                        assert got[code] == n, (level, code, measure)
                    else:
                        assert got[code] == pytest.approx(n / persons, rel=1e-4), (level, code)
    assert hidden > 1000  # the view hides items, so the comparison was not vacuous


def test_village_list_by_dimension_and_no_household_lists(served):
    """The village list filtered by a dimension keeps the villages with target poor deprived
    in it (their number beside them, TPMAP's figure); household and exclusion lists need
    persons: said so (and their tabs are not offered), never an empty list."""
    app, national = served
    client = app.test_client()
    text = _get(app, "/lists/villages.csv?dataset=tpmap&area=TH5801&dimension=accessibility"
                     "&order=n_target_poor", national).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    pub = published("village", "11111", "58").filter(
        pl.col("village_ID").str.starts_with("5801")
        & (pl.col("village_ID").str.slice(4, 2).cast(pl.Int32) < 51)).group_by(
        pl.col("village_ID").str.slice(0, 8)).agg(
        pl.col("poor.JPT.MOFval.accessibility").cast(pl.Int64).sum())
    want = {"TH" + k: v for k, v in pub.iter_rows() if v > 0}
    assert want and {r["village_id"]: int(r["n_target_poor_accessibility"]) for r in rows} == want
    tp = [int(r["n_target_poor"]) for r in rows]
    assert tp == sorted(tp, reverse=True)  # most target poor first
    page = _get(app, "/lists?dataset=tpmap&area=TH5801", {**national, **HTML}).get_data(
        as_text=True)
    assert "/lists/households?" not in page and "/lists/excluded?" not in page
    assert 'value="n_poor"' not in page and 'value="n_target_poor"' in page
    for kind in ("households", "excluded"):
        r = client.get(f"/lists/{kind}?dataset=tpmap&area=TH5801", headers={**national, **HTML})
        assert r.status_code == 404 and NA in r.get_data(as_text=True), kind


def test_home_and_ranking_pages_say_not_available(served):
    """Home page and ranking: measures that need persons read 'not available for this
    dataset' (not 'no data', never 0), and no cut-off k is claimed."""
    app, national = served
    home = _get(app, "/?dataset=tpmap", HTML).get_data(as_text=True)
    for measure in ("h", "a", "m0"):
        assert NA in _row(home, f'data-measure="{measure}"'), measure
    assert "cut-off k" not in home and "Published tables without person records" in home
    tp = _row(home, 'data-measure="n_target_poor"')
    assert f"{_published_tp_total():,}" in tp
    page = _get(app, "/ranking?dataset=tpmap&area=TH58", {**national, **HTML}).get_data(
        as_text=True)
    rows = re.findall(r'<tr data-code="TH58\d\d">.*?</tr>', page, flags=re.S)
    assert len(rows) == 7 and all(NA in r and "no data" not in r for r in rows)


def _published_tp_total() -> int:
    return int(published("amphur", "11111")["poor.JPT.MOFval.CNT"].cast(pl.Int64).sum())
