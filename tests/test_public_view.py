"""One public view: the API, the map values, the API exports, `chipao export --public` and
the home page all give the rows of service.access.views.public_view, at every level they
serve, over a store holding Mae Hong Son (TH58) and Chiang Mai (TH50)."""

from __future__ import annotations

import csv
import gzip
import io
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from service import create_app
from service.access.principal import PUBLIC, Principal
from service.access.views import BIG_LEVELS, area_view, public_view
from service.vocabulary import H3_LEVELS, LEVELS

PROVINCES = ("TH58", "TH50")
K = 10
#: columns compared in every consumer (counts, a ratio, the disclosure flags)
COMPARED = ("n_households", "n_persons", "n_poor", "n_target_poor", "h", "m0")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    import api_dataset

    tmp = tmp_path_factory.mktemp("public-view")
    app = create_app({"testing": True, "data_dir": str(tmp / "var"), "secret_key": "t",
                      "rate_limit": "", "min_cell_households": K})
    ids = api_dataset.build(app.config["CHIPAO"], provinces=PROVINCES)
    return app, tmp, ids[-1]


def _raw_view(app, level, province=None):
    from service.api.services import services

    return public_view(services(app).store, "demo", level, province=province,
                       min_households=K, whole_country=True)


def _view(app, level, province=None):
    from service.api.services import services

    s = services(app)
    view = public_view(s.store, "demo", level, province=province, min_households=K,
                       whole_country=True)
    # public H3 listings and exports leave suppressed cells out entirely (no code, no
    # polygon: docs/security.md); the public view keeps them, flagged, for coarser covers
    if level in H3_LEVELS:
        view = view[~view["suppressed"].astype(bool)].reset_index(drop=True)
    return view


def _num(values) -> np.ndarray:
    return pd.to_numeric(pd.Series(list(values), dtype=object).replace({"": None}),
                         errors="coerce").to_numpy(dtype="float64")


def _assert_same(got: pd.DataFrame, want: pd.DataFrame, where: str) -> None:
    """Same codes in the same order, same suppression, same figures (nulls included)."""
    if got.empty and want.empty:
        return
    assert list(got["code"]) == list(want["code"]), where
    sup = [str(x).lower() in ("true", "1") for x in got["suppressed"]]
    assert sup == [bool(x) for x in want["suppressed"]], where
    for col in COMPARED:
        if col in want and col in got:
            np.testing.assert_allclose(_num(got[col]), _num(want[col]), rtol=1e-9,
                                       equal_nan=True, err_msg=f"{where} {col}")


def test_the_fixture_has_something_to_hide(world):
    app, _, _ = world
    village = _view(app, "village")
    assert village["suppressed"].any() and not village["suppressed"].all()
    assert village.loc[village["suppressed"], "n_households"].isna().all()
    assert _raw_view(app, "h3_r9")["suppressed"].any()


def test_api_areas_give_the_public_view(world):
    app, _, _ = world
    client = app.test_client()
    for level in LEVELS:
        scopes = [None, *PROVINCES] if level not in BIG_LEVELS else list(PROVINCES)
        for prov in scopes:
            if level == "country" and prov:
                continue
            url = f"/api/v1/areas/{level}?limit=5000" + (f"&province={prov}" if prov else "")
            resp = client.get(url)
            assert resp.status_code == 200, url
            got = pd.DataFrame(resp.get_json()["items"])
            _assert_same(got, _view(app, level, prov), url)


def test_map_values_give_the_public_view(world):
    app, _, version = world
    client = app.test_client()
    pages = [(None, lv) for lv in ("province", "amphoe", "tambon", "h3_r6", "h3_r7")] + [
        (p, lv) for p in PROVINCES for lv in ("tambon", "amphoe", "h3_r7", "h3_r8", "h3_r9")]
    for scope, level in pages:
        url = f"/maps/values/{level}.json?measure=n_target_poor" + (
            f"&scope={scope}" if scope else "")
        resp = client.get(url)
        assert resp.status_code == 200, url
        body = resp.data
        if resp.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        payload = json.loads(body)
        # coarser cells drawn over small ones (MAPS) and the amphoes beneath the r6 map (UI)
        # are rows of another level: left out here
        n = len(payload["codes"])
        own = [i for i, (r, a) in enumerate(zip(payload.get("cover_resolution") or [None] * n,
                                                payload.get("cover_level") or [None] * n,
                                                strict=True)) if r is None and a is None]
        hidden = set(payload["suppressed"])
        payload = {"codes": [payload["codes"][i] for i in own],
                   "suppressed": [j for j, i in enumerate(own) if i in hidden],
                   "columns": {c: [v[i] for i in own] for c, v in payload["columns"].items()}}
        want = _raw_view(app, level, scope)
        shown = want["code"].isin(payload["codes"])
        assert shown.sum() == len(payload["codes"]), url
        assert payload["codes"] or level == "h3_r9", url  # r9 cells here are all small
        # H3 cells below the threshold are not even located; nothing else is left out
        dropped = want[~shown]
        assert level.startswith("h3_") or dropped.empty, url
        # (the public is told one reason only, 'withheld': SEC, docs/security.md)
        assert dropped["suppressed"].astype(bool).all(), url
        want = want[shown]
        got = pd.DataFrame({"code": payload["codes"], **{
            c: payload["columns"][c] for c in ("n_households", "n_persons", "n_poor")},
            "n_target_poor": payload["columns"]["value"]})
        got["suppressed"] = False
        got.loc[payload["suppressed"], "suppressed"] = True
        got = got.sort_values("code").reset_index(drop=True)
        _assert_same(got, want.sort_values("code").reset_index(drop=True), url)


def test_api_exports_give_the_public_view(world):
    app, _, _ = world
    client = app.test_client()
    for level in LEVELS:
        for prov in PROVINCES if level != "country" else (None,):
            url = f"/api/v1/exports/areas/{level}.csv" + (f"?province={prov}" if prov else "")
            resp = client.get(url)
            assert resp.status_code == 200, url
            rows = list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))
            _assert_same(pd.DataFrame(rows), _view(app, level, prov), url)


def test_cli_export_public_gives_the_public_view(world, monkeypatch):
    from service.cli import main

    app, tmp, _ = world
    monkeypatch.setenv("CHIPAO_DATA_DIR", app.config["CHIPAO"]["data_dir"])
    monkeypatch.setenv("CHIPAO_MIN_CELL_HOUSEHOLDS", str(K))
    for level in LEVELS:
        for prov in PROVINCES if level != "country" else (None,):
            out = tmp / "cli" / level / (prov or "all")
            args = ["export", "--level", level, "--public", "--out", str(out)]
            result = CliRunner().invoke(main, args + (["--province", prov] if prov else []))
            assert result.exit_code == 0, result.output
            (path,) = out.glob("*.csv")
            rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
            _assert_same(pd.DataFrame(rows), _view(app, level, prov), f"cli {level} {prov}")


def test_home_page_gives_the_public_view(world):
    """The ten provinces of the home page and their figures are the public province rows,
    and the country column is the public country row."""
    from service.api.services import services
    from service.render.catalogue import compute, format_value, load_catalogue
    from service.usecases.home import home_figures

    app, _, _ = world
    home = home_figures(services(app), "demo", PUBLIC)
    provinces = _view(app, "province")
    rate = compute(provinces, load_catalogue().get("target_poor_rate"))
    visible = provinces[rate.notna() & ~provinces["suppressed"]].assign(_r=rate)
    visible = visible.sort_values(["_r", "code"], ascending=[False, True]).head(10)
    assert [r["code"] for r in home["top"]] == list(visible["code"])
    for row, (_, want) in zip(home["top"], visible.iterrows(), strict=True):
        assert row["cells"][1] == format_value(float(want["n_target_poor"]), "count")
        assert row["cells"][2] == format_value(float(want["n_persons"]), "count")
    country = _view(app, "country").iloc[0]
    (column,) = home["columns"]
    assert column["public"]
    households = next(r for r in home["headline"] if r["id"] == "n_households")
    assert households["cells"] == [format_value(float(country["n_households"]), "count")]


def test_a_provincial_user_sees_other_provinces_as_the_public_does(world):
    from service.api.services import services

    app, _, _ = world
    s = services(app)
    for level in LEVELS:
        if level == "country":
            continue
        own = area_view(s.store, "demo", level, Principal("provincial", "TH50"),
                        province="TH58", min_households=K)
        assert (own["view"] == "public").all()
        pd.testing.assert_frame_equal(own, _raw_view(app, level, "TH58"))
        detail = area_view(s.store, "demo", level, Principal("provincial", "TH58"),
                           province="TH58", min_households=K)
        assert (detail["view"] == "detail").all()
        assert not detail["n_households"].isna().any()
