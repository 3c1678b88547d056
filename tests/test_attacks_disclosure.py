"""Differencing and small-cell attacks on the public view (issue 16, High 3 and Lower "group
differencing"): split households, person sub-counts, groups, parent-children, tambon-H3.

The method (docs/security.md): households are protected by threshold suppression
(a household counts in every area where any member is; complementary suppression; the
tambon x H3 differencing audit); every other count is perturbed with the cell-key method
(ONS Census 2021, ABS), so a difference of published figures returns noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from api_dataset import DATASET, PROVINCES, scored_persons

from service.analysis.aggregate import admin_names, aggregate
from service.analysis.disclosure import count_columns, perturbed_values, suppress
from service.geo import boundaries
from service.store import open_store

MIN = 10
SPLIT_VILLAGE_SUFFIX = "99"


def _split_household(frame: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """Move the second member of one household to a village and point of its own."""
    sizes = frame.group_by("hh_id").len().filter(pl.col("len") >= 2).sort("hh_id")
    hh = sizes["hh_id"][0]
    member = frame.filter(pl.col("hh_id") == hh)["person_id"][1]
    village = frame.filter(pl.col("hh_id") == hh)["village_id"][0][:8] + SPLIT_VILLAGE_SUFFIX
    lon = frame["lon"].max() + 0.2
    lat = frame["lat"].max() + 0.2
    import h3

    moved = pl.col("person_id") == member
    out = frame.with_columns(
        pl.when(moved).then(pl.lit(village)).otherwise(pl.col("village_id")).alias("village_id"),
        pl.when(moved).then(pl.lit(lon)).otherwise(pl.col("lon")).alias("lon"),
        pl.when(moved).then(pl.lit(lat)).otherwise(pl.col("lat")).alias("lat"),
        *[pl.when(moved).then(pl.lit(h3.str_to_int(h3.latlng_to_cell(lat, lon, r)),
                                     dtype=pl.UInt64)).otherwise(pl.col(f"h3_r{r}"))
          .alias(f"h3_r{r}") for r in (6, 7, 8, 9)])
    return out, village


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A store whose TH50 persons hold one split household, served to anonymous callers."""
    from service import create_app

    tmp = tmp_path_factory.mktemp("split")
    app = create_app({"testing": True, "data_dir": str(tmp / "var"), "secret_key": "t",
                      "rate_limit": "1000000 per minute", "min_cell_households": MIN})
    settings = app.config["CHIPAO"]
    persons = {p: scored_persons(settings, p, seed=k) for k, p in enumerate(PROVINCES)}
    persons["TH50"], village = _split_household(persons["TH50"])
    tables = aggregate(list(persons.values()),
                       names=admin_names(boundaries.hierarchy(settings["boundaries_dir"])))
    store = open_store(settings)
    with store.write_version(DATASET, round=2561, source_sha256="split") as w:
        for p, frame in persons.items():
            frame.write_parquet(w.persons_path(p))
        for level, table in tables.items():
            table.write_parquet(w.areas_path(level))
        w.publish(n_persons=1, n_households=1, meta={"levels": list(tables)})
    raw = {level: t.to_pandas() for level, t in tables.items()}
    return app, village, raw


def test_a_member_recorded_elsewhere_does_not_escape_suppression(served):
    app, village, raw = served
    row = raw["village"].set_index("code").loc[village]
    # the attack: a village holding only the moved member (no household counted there)
    assert row["n_households"] == 0 and row["n_persons"] == 1 and row["n_hh_present"] == 1
    client = app.test_client()
    body = client.get(f"/api/v1/areas/village/{village}").get_json()["area"]
    assert body["suppressed"] is True and body["n_persons"] is None
    assert body.get("lon") is None and body.get("n_poor") is None
    listed = client.get(f"/api/v1/areas/tambon/{village[:8]}").get_json()["children"]
    split = [r for r in listed if r["code"] == village]
    assert split and all(r["n_persons"] is None for r in split)
    # the member's r9 cell: one person, no household first member
    cells = raw["h3_r9"]
    lone = cells[(cells["n_households"] == 0) & (cells["n_persons"] > 0)]
    assert len(lone) == 1
    public = client.get(f"/api/v1/cells?resolution=9&province={lone['province_code'].iloc[0]}"
                        ).get_json()["items"]
    assert not [c for c in public if c["code"] == lone["code"].iloc[0]
                and c.get("n_persons") is not None]


def _public_rows(app, level: str, province: str | None = None) -> list[dict]:
    client = app.test_client()
    if level.startswith("h3_"):
        url = f"/api/v1/cells?resolution={level[-1]}&province={province}&limit=5000"
    else:
        url = f"/api/v1/areas/{level}?limit=5000" + (f"&province={province}" if province
                                                      else "")
    return client.get(url).get_json()["items"]


def test_no_public_sub_count_of_one_or_two(served):
    app, _village, raw = served
    seen_small_raw = 0
    for level in ("province", "amphoe", "tambon", "village", "h3_r7", "h3_r8", "h3_r9"):
        provinces = PROVINCES if level in ("village", "h3_r7", "h3_r8", "h3_r9") else (None,)
        cols = count_columns(raw[level])
        small = raw[level][cols].isin([1, 2]).to_numpy().sum()
        seen_small_raw += int(small)
        for prov in provinces:
            for row in _public_rows(app, level, prov):
                for c in cols:
                    assert row.get(c) not in (1, 2), (level, row["code"], c, row.get(c))
    assert seen_small_raw > 0, "fixture: the raw tables hold sub-counts of 1 and 2"


def _differencing(raw_children: pd.DataFrame, raw_parents: pd.DataFrame,
                  public_children: pd.DataFrame, public_parents: pd.DataFrame,
                  columns: list[str]) -> tuple[int, int]:
    """Replay 'parent minus its published children' for every parent with a withheld child
    and every count column: (cases, exact recoveries of the withheld part)."""
    cases = exact = 0
    hidden = public_children[public_children["suppressed"].astype(bool)]
    for parent in hidden["parent_code"].dropna().unique():
        prow = public_parents[public_parents["code"] == parent]
        if prow.empty or bool(prow["suppressed"].iloc[0]):
            continue
        kids = public_children[public_children["parent_code"] == parent]
        shown = kids[~kids["suppressed"].astype(bool)]
        truth_hidden = raw_children[raw_children["code"].isin(
            kids.loc[kids["suppressed"].astype(bool), "code"])]
        for c in columns:
            total = pd.to_numeric(prow[c]).iloc[0]
            if pd.isna(total):  # withheld in the parent too: nothing to subtract from
                continue
            guess = float(total) - float(pd.to_numeric(shown[c]).sum())
            truth = float(truth_hidden[c].sum())
            cases += 1
            exact += int(abs(guess - truth) < 1e-9)
    return cases, exact


def test_parent_minus_children_and_groups_return_noise(served):
    app, _village, raw = served
    min_hh = MIN
    cases = exact = 0
    for child, parent in (("village", "tambon"), ("tambon", "amphoe"),
                          ("h3_r9", "h3_r8"), ("h3_r8", "h3_r7")):
        cols = [c for c in count_columns(raw[child])
                if c.startswith(("n_poor", "n_chronic", "n_child", "n_elderly", "n_cdep",
                                 "n_dep", "n_target", "n_severe", "n_excl", "n_elig"))]
        pub_c = suppress(raw[child], min_households=min_hh)
        pub_p = suppress(raw[parent], min_households=min_hh)
        n, e = _differencing(raw[child], raw[parent], pub_c, pub_p, cols)
        cases, exact = cases + n, exact + e
    assert cases >= 30, "fixture: enough withheld children to replay the attack"
    # without perturbation every case was recovered exactly (exact == cases)
    assert exact / cases < 0.5, (exact, cases)


def test_tambon_minus_cells_returns_noise(served):
    app, _village, raw = served
    cols = [c for c in count_columns(raw["tambon"]) if c.startswith(("n_poor", "n_child",
                                                                     "n_elderly", "n_dep"))]
    pub_t = suppress(raw["tambon"], min_households=MIN)
    pub_c = suppress(raw["h3_r9"], min_households=MIN)
    cases = exact = 0
    for tambon in pub_t.loc[~pub_t["suppressed"], "code"]:
        cells = raw["h3_r9"][raw["h3_r9"]["code"].isin(_cells_of(app, tambon))]
        if cells.empty:
            continue
        shown = pub_c[pub_c["code"].isin(cells["code"]) & ~pub_c["suppressed"]]
        for c in cols:
            total = pd.to_numeric(pub_t.loc[pub_t["code"] == tambon, c]).iloc[0]
            if pd.isna(total):
                continue
            guess = float(total) - float(pd.to_numeric(shown[c]).sum())
            truth = float(raw["tambon"].loc[raw["tambon"]["code"] == tambon, c].iloc[0]) - \
                float(raw["h3_r9"].loc[raw["h3_r9"]["code"].isin(shown["code"]), c].sum())
            cases += 1
            exact += int(abs(guess - truth) < 1e-9)
    assert cases >= 10
    assert exact / cases < 0.5, (exact, cases)


def _cells_of(app, tambon: str) -> list[str]:
    persons = scored_persons(app.config["CHIPAO"], tambon[:4], seed=PROVINCES.index(tambon[:4]))
    import h3

    return sorted({h3.int_to_str(c) for c in persons.filter(
        pl.col("tambon_located") == tambon)["h3_r9"].to_list()})


def test_perturbation_is_consistent_and_never_publishes_one_or_two():
    values = np.repeat(np.arange(0, 40), 256)
    keys = np.tile(np.arange(256), 40)
    out = perturbed_values(values, keys)
    assert ((out == 1) | (out == 2)).sum() == 0
    assert (out[values == 0] == 0).all() and (out >= 0).all()
    assert np.array_equal(out, perturbed_values(values, keys))  # same cell, same value
    big = values >= 3
    assert 0.5 < (out[big] != values[big]).mean() < 0.7   # ~60 % of counts moved
    assert np.abs(out[big] - values[big]).max() <= 3     # 3 -> 0 is the largest move
    # close to unbiased for ordinary counts
    assert abs((out[values >= 5] - values[values >= 5]).mean()) < 0.05


def test_public_cells_and_h3_exports_list_no_suppressed_cell(served):
    """Review: /api/v1/cells and the H3 exports listed every suppressed cell with its polygon
    and 'primary', i.e. where 1-9 households live. Now: published cells, and the nearest
    published parent of the suppressed ones (cover), never a suppressed code."""
    import io
    import json

    app, _village, raw = served
    client = app.test_client()
    for res in (8, 9):
        level = f"h3_r{res}"
        small = raw[level][raw[level]["n_hh_present"] < MIN]
        assert len(small), "fixture: some cells hold fewer than 10 households"
        hidden = set(suppress(raw[level], min_households=MIN).query("suppressed")["code"])
        for prov in PROVINCES:
            items = client.get(f"/api/v1/cells?resolution={res}&province={prov}&limit=5000"
                               ).get_json()["items"]
            codes = {c["code"] for c in items}
            assert not codes & hidden
            assert not any(c.get("suppressed") for c in items)
            assert {c.get("suppression_reason") for c in items} <= {None}
            assert all(c["level"] == level for c in items)
            csv = client.get(f"/api/v1/exports/areas/{level}.csv?province={prov}")
            assert csv.status_code == 200 and not any(h in csv.get_data(as_text=True)
                                                      for h in hidden)
            geo = client.get(f"/api/v1/exports/areas/{level}.geojson?province={prov}")
            assert geo.status_code == 200
            feats = json.load(io.BytesIO(geo.data))["features"]
            exported = {f["properties"]["code"] for f in feats}
            assert not exported & hidden and codes <= exported
            import h3
        # a suppressed cell answers as an empty one, and is no one's listed child
        some = sorted(hidden)[0]
        assert client.get(f"/api/v1/cells/{some}").status_code == 404
        parent = h3.cell_to_parent(some, res - 1)
        kids = client.get(f"/api/v1/cells/{parent}").get_json()
        if kids.get("children") is not None:
            assert some not in {c["code"] for c in kids["children"]}
