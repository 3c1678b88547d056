"""Border H3 cells (issue 16, Lower "border H3 cells"; Build item 6).

An H3 cell on a province border holds households of two provinces. Access control puts the
cell in the province of most of its households (``province_code``), and the review found
that this province then saw the whole cell in detail, the other province's households too
(4 r9, 3 r8, 1 r7 cells under 10 households; 21 r6 cells with 738 TH50 households visible
to TH58). A provincial user must see in detail only its own province's households of a
border cell (the per-(cell, province) partial rows built at aggregation) and of the other
province's households nothing beyond the public view.

The fixture: the real pipeline over demo persons of Mae Hong Son (TH58: Mueang, Pai) and
Chiang Mai's Galyani Vadhana (TH5025), which share a border."""

from __future__ import annotations

import math

import pandas as pd
import polars as pl
import pytest

from service.access.principal import Principal
from service.access.views import area_view, protect_rows, public_view
from service.vocabulary import H3_LEVELS

MIN = 10
PROVINCES = ("TH58", "TH50")
PASSWORD = "correct horse battery"
CHECKED = ("n_persons", "n_hh_present", "n_poor", "n_scored", "n_target_poor")


@pytest.fixture(scope="module")
def border(tmp_path_factory, make_demo_persons):
    from service import create_app
    from service.api.auth import user_store
    from service.pipeline import build_version
    from service.store import open_store

    persons_dir = make_demo_persons(provinces=list(PROVINCES),
                                    amphoes=["TH5801", "TH5803", "TH5025"])
    tmp = tmp_path_factory.mktemp("border")
    app = create_app({"testing": True, "data_dir": str(tmp / "var"), "secret_key": "t",
                      "rate_limit": "1000000 per minute", "min_cell_households": MIN})
    settings = app.config["CHIPAO"]
    store = open_store(settings)
    version = build_version(settings, dataset="demo", round=2561, store=store,
                            persons_dir=persons_dir / "persons", progress=False)
    users = user_store(app)
    tokens = {}
    for prov in PROVINCES:
        users.create_user(prov.lower(), PASSWORD, "provincial", prov)
        tokens[prov] = users.create_token(prov.lower())[0]
    persons = pl.concat([store.read_persons("demo", p, version=version.id) for p in PROVINCES],
                        how="diagonal_relaxed")
    return app, store, version.id, tokens, _parts_of(persons)


def _parts_of(persons: pl.DataFrame) -> dict[str, pd.DataFrame]:
    """Per H3 level: the truth of every (cell, province) part, counted from the persons
    (province = of the located tambon, where the point is)."""
    import h3

    out = {}
    for level in H3_LEVELS:
        frame = (persons.filter(pl.col(level).is_not_null() & pl.col("tambon_located")
                                .is_not_null())
                 .with_columns(pl.col("tambon_located").str.slice(0, 4).alias("part"))
                 .group_by(level, "part")
                 .agg(pl.len().alias("n_persons"), pl.col("hh_id").n_unique()
                      .alias("n_hh_present"), pl.col("mpi_poor").fill_null(False).sum()
                      .alias("n_poor"), pl.col("mpi_c").is_not_null().sum().alias("n_scored"),
                      pl.col("tpmap_target_poor").fill_null(False).sum()
                      .alias("n_target_poor"))
                 .to_pandas())
        frame["code"] = [h3.int_to_str(int(c)) for c in frame[level]]
        frame["n_provinces"] = frame.groupby("code")["part"].transform("nunique")
        out[level] = frame.drop(columns=[level]).set_index(["code", "part"]).sort_index()
    return out


def _listing(store, version, level, principal, province):
    # small levels country-wide, the big ones one province at a time
    if level in ("h3_r6", "h3_r7"):
        return area_view(store, "demo", level, principal, version=version,
                         min_households=MIN)
    return area_view(store, "demo", level, principal, version=version, province=province,
                     min_households=MIN)


def _border_parts(parts: pd.DataFrame) -> pd.DataFrame:
    return parts[parts["n_provinces"] > 1]


def test_the_fixture_holds_border_cells_with_few_households_of_one_side(border):
    """Guard: the attack below has something to find (small minority parts of both
    provinces' majorities)."""
    *_, parts = border
    r6 = _border_parts(parts["h3_r6"])
    assert len(r6.index.get_level_values(0).unique()) >= 2
    minority = r6.groupby(level=0)["n_hh_present"].min()
    assert (minority < MIN).any()
    assert len(_border_parts(parts["h3_r7"])) >= 2


@pytest.mark.parametrize("level", H3_LEVELS)
@pytest.mark.parametrize("province", PROVINCES)
def test_provincial_detail_of_a_border_cell_is_its_own_households_only(border, level,
                                                                        province):
    _, store, version, _, parts = border
    p = Principal("provincial", province, "u")
    rows = _listing(store, version, level, p, province).set_index("code")
    assert not rows.index.duplicated().any()
    wanted = _border_parts(parts[level])
    for (code, part), truth in wanted.iterrows():
        if part != province:
            continue
        # the province sees its own part of every border cell in detail, majority or not
        assert code in rows.index, (level, code, "own households of a border cell missing")
        row = rows.loc[code]
        assert row["view"] == "detail", (level, code)
        for column in CHECKED:
            assert int(row[column]) == int(truth[column]), (level, code, column)
    # no row in detail holds a household of another province
    detail = rows[rows["view"] == "detail"]
    mine = parts[level].xs(province, level="part")
    for code, row in detail.iterrows():
        assert code in mine.index, (level, code, "detail of a cell without own households")
        assert int(row["n_persons"]) == int(mine.loc[code, "n_persons"]), (level, code)


@pytest.mark.parametrize("province", PROVINCES)
def test_other_rows_a_province_sees_are_exactly_the_public_rows(border, province):
    _, store, version, _, parts = border
    p = Principal("provincial", province, "u")
    for level in ("h3_r6", "h3_r7"):
        rows = _listing(store, version, level, p, province).set_index("code")
        public = public_view(store, "demo", level, version=version, min_households=MIN,
                             ).set_index("code")
        others = rows[rows["view"] == "public"]
        assert len(others) > 0
        for code, row in others.iterrows():
            for column in ("n_households", "n_persons", "n_poor", "m0", "suppressed"):
                a, b = row.get(column), public.loc[code].get(column)
                assert (_missing(a) and _missing(b)) or a == b, (level, code, column)


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


@pytest.mark.parametrize("province", PROVINCES)
def test_cells_api_of_a_province_shows_only_its_own_part_of_border_cells(border, province):
    app, _, _, tokens, parts = border
    client = app.test_client()
    headers = {"Authorization": f"Bearer {tokens[province]}"}
    wanted = _border_parts(parts["h3_r6"]).xs(province, level="part")
    items = client.get(f"/api/v1/cells?resolution=6&province={province}&limit=5000",
                       headers=headers).get_json()["items"]
    listed = {i["code"]: i for i in items}
    for code, truth in wanted.iterrows():
        assert listed[code]["n_persons"] == truth["n_persons"], code
    for code in wanted.index:
        one = client.get(f"/api/v1/cells/{code}", headers=headers).get_json()["cell"]
        own = one.get("view") == "detail"
        # the cell's own endpoint: the own part in detail, or exactly the public figures
        truth = int(wanted.loc[code, "n_persons"])
        if own:
            assert one["n_persons"] == truth, code
        else:
            public = client.get(f"/api/v1/cells/{code}").get_json()["cell"]
            assert one["n_persons"] == public["n_persons"], code


@pytest.mark.parametrize("province", PROVINCES)
def test_province_maps_of_h3_cells_show_only_its_own_part(border, province):
    """Maps read the province's stored rows and protect them (service.access.views.
    protect_rows): a border cell shown in detail carries the province's part only."""
    _, store, version, _, parts = border
    p = Principal("provincial", province, "u")
    for level in H3_LEVELS:
        frame = store.read_areas("demo", level, version=version, province=province)
        shown = protect_rows(store, "demo", version, level, frame, p, min_households=MIN)
        shown = shown.set_index("code")
        mine = parts[level].xs(province, level="part")
        ours = _border_parts(parts[level]).reset_index()
        for code in ours.loc[ours["part"] == province, "code"]:
            if code not in shown.index:
                continue  # a cell of the other province's majority: not on this map
            row = shown.loc[code]
            assert not bool(row["suppressed"]), (level, code)
            assert int(row["n_persons"]) == int(mine.loc[code, "n_persons"]), (level, code)
            assert int(row["n_hh_present"]) == int(mine.loc[code, "n_hh_present"])


def test_national_users_and_the_public_see_whole_border_cells(border):
    _, store, version, _, parts = border
    nat = area_view(store, "demo", "h3_r6", Principal("national"), version=version,
                    min_households=MIN).set_index("code")
    whole = parts["h3_r6"].groupby(level=0)["n_persons"].sum()
    for code in _border_parts(parts["h3_r6"]).index.get_level_values(0).unique():
        assert int(nat.loc[code, "n_persons"]) == int(whole.loc[code])


def test_a_version_without_stored_parts_shows_its_border_cells_as_the_public_does(
        border, monkeypatch):
    """Versions built before the parts were stored: the build's audit table tells the
    border cells, and no provincial user sees them in detail."""
    _, store, version, _, parts = border
    monkeypatch.setattr(store, "read_partials", lambda *a, **k: None)
    public = public_view(store, "demo", "h3_r6", version=version, min_households=MIN
                         ).set_index("code")
    for province in PROVINCES:
        p = Principal("provincial", province, "u")
        for rows in (_listing(store, version, "h3_r6", p, province),
                     area_view(store, "demo", "h3_r6", p, version=version, province=province,
                               min_households=MIN)):
            rows = rows.set_index("code")
            assert not rows.index.duplicated().any()
            for code in _border_parts(parts["h3_r6"]).index.get_level_values(0).unique():
                if code not in rows.index:
                    continue
                assert rows.loc[code, "view"] == "public", (province, code)
                assert rows.loc[code, "n_households"] == public.loc[code, "n_households"]
        frame = store.read_areas("demo", "h3_r6", version=version, province=province)
        shown = protect_rows(store, "demo", version, "h3_r6", frame, p, min_households=MIN
                             ).set_index("code")
        for code in set(shown.index) & set(parts["h3_r6"][parts["h3_r6"]["n_provinces"] > 1]
                                           .index.get_level_values(0)):
            assert shown.loc[code, "n_persons"] == public.loc[code, "n_persons"] or bool(
                shown.loc[code, "suppressed"])


def test_border_cell_columns_the_parts_lack_become_null_whatever_their_dtype():
    """Seen on the three-round national demo under load: an H3 map of a province whose border
    cells carry float columns the per-province parts lack (panel, raster) answered 500
    (pandas refused a list of None for a float64 column). They become null instead."""
    import numpy as np
    import pandas as pd

    from service.access.views import _replace_by_parts

    frame = pd.DataFrame({"code": ["a", "b"], "n_persons": [5, 6], "pnl_x": [0.5, 0.25],
                          "n_flag": [1, 0], "label": ["x", "y"]})
    parts = pd.DataFrame({"code": ["b"], "n_persons": [3]})
    _replace_by_parts(frame, np.array([False, True]), parts)
    assert frame["n_persons"].tolist() == [5, 3]
    assert frame.loc[0, "pnl_x"] == 0.5 and pd.isna(frame.loc[1, "pnl_x"])
    assert frame.loc[0, "n_flag"] == 1 and pd.isna(frame.loc[1, "n_flag"])
    assert frame.loc[0, "label"] == "x" and pd.isna(frame.loc[1, "label"])
