"""Pipeline on generated demo data: build, idempotence, conservation, disclosure, rounds."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest

from service.analysis.disclosure import differencing_audit, suppress
from service.settings import load_settings
from service.store import compare_versions, open_store

AMPHOE = "TH7502"  # one amphoe of Samut Songkhram: ~8 k households, generated in ~3 s
MIN = 10


@pytest.fixture(scope="session")
def demo_src(tmp_path_factory):
    from service.demo.generate import generate

    out = tmp_path_factory.mktemp("demo-src")
    generate(provinces=["TH75"], amphoes=[AMPHOE], seed=7, out=out)
    return out


@pytest.fixture(scope="session")
def locator():
    from service.geo.boundaries import load_level
    from service.geo.locate import TambonLocator

    return TambonLocator(load_level(load_settings(environ={})["boundaries_dir"], "tambon"))


@pytest.fixture(scope="session")
def built(tmp_path_factory, demo_src, locator):
    from service.pipeline import build_version

    settings = load_settings({"data_dir": str(tmp_path_factory.mktemp("var"))}, environ={})
    version = build_version(settings, dataset="demo", round=2561, persons_dir=demo_src,
                            progress=False, locator=locator)
    return settings, version


def test_version_is_current_and_counts_match_input(built, demo_src):
    settings, version = built
    store = open_store(settings)
    assert store.current("demo").id == version.id
    raw = pl.read_parquet(demo_src / "persons" / "TH75.parquet")
    assert version.n_persons == raw.height
    assert version.n_households == raw["hh_id"].n_unique()
    tambons = store.read_areas("demo", "tambon")
    expected = raw.group_by("tambon_code").agg(pl.col("hh_id").n_unique().alias("n")).to_pandas()
    merged = tambons.merge(expected, left_on="code", right_on="tambon_code")
    assert len(merged) == len(expected)
    assert (merged["n_households"] == merged["n"]).all()
    assert version.meta["locate"]["by_source"]["point"] == raw.height


def test_totals_conserved_in_store(built):
    settings, _ = built
    store = open_store(settings)
    country = store.read_areas("demo", "country").iloc[0]
    for level in ("province", "amphoe", "tambon", "village", "h3_r6", "h3_r7", "h3_r8",
                  "h3_r9"):
        frame = store.read_areas("demo", level)
        for col in ("n_households", "n_persons", "n_poor", "n_target_poor",
                    "n_excl_elderly_allowance"):
            assert frame[col].sum() == country[col], (level, col)


def test_scored_persons_stored(built):
    settings, _ = built
    persons = open_store(settings).read_persons("demo", "TH75")
    for col in ("mpi_c", "mpi_poor", "tpmap_target_poor", "h3_r9", "tambon_located",
                "locate_source", "hh_crossgen", "elig_child_grant"):
        assert col in persons.columns
    assert persons["h3_r9"].dtype == pl.UInt64


def test_same_source_is_not_rebuilt(built, demo_src, locator):
    from service.pipeline import build_version

    settings, version = built
    store = open_store(settings)
    before = sorted(p.name for p in (store.root / "demo").iterdir())
    again = build_version(settings, dataset="demo", round=2561, persons_dir=demo_src,
                          progress=False, locator=locator)
    assert again.id == version.id
    assert sorted(p.name for p in (store.root / "demo").iterdir()) == before
    assert len(store.versions("demo")) == 1


def test_public_tables_disclose_nothing_small(built):
    settings, _ = built
    store = open_store(settings)
    public: dict[str, pd.DataFrame] = {}
    raw: dict[str, pd.DataFrame] = {}
    for level in ("country", "province", "amphoe", "tambon", "village", "h3_r6", "h3_r7",
                  "h3_r8", "h3_r9"):
        raw[level] = store.read_areas("demo", level)
        public[level] = suppress(raw[level], min_households=MIN, level=level)
        shown = public[level]["n_households"].dropna()
        assert (shown >= MIN).all(), level
    assert public["h3_r9"]["suppressed"].any()
    # parent minus published children never reveals 1-9 households
    for child, parent in (("village", "tambon"), ("h3_r9", "h3_r8"), ("h3_r8", "h3_r7"),
                          ("h3_r7", "h3_r6")):
        kids = public[child]
        shown = kids.groupby("parent_code")["n_households"].sum(min_count=0)
        hidden = kids.groupby("parent_code")["suppressed"].any()
        par = public[parent].set_index("code")
        for code in hidden.index[hidden]:
            if code in par.index and pd.notna(par.loc[code, "n_households"]):
                diff = par.loc[code, "n_households"] - shown.get(code, 0)
                assert not 0 < diff < MIN, (child, code, diff)
    # tambon x H3 differencing audit with the real tambon polygons
    from service.geo.boundaries import load_level

    tam = load_level(settings["boundaries_dir"], "tambon")
    geoms = dict(zip(tam["code"], tam.geometry.values, strict=True))
    version_dir = store.version_dir("demo")
    for level in ("h3_r6", "h3_r7", "h3_r8", "h3_r9"):
        cell_tambons = pd.read_parquet(version_dir / "audit" / f"cell_tambons_{level}.parquet")
        bad = differencing_audit(public["tambon"], public[level], min_households=MIN,
                                 cell_tambons=cell_tambons, tambon_geometries=geoms)
        assert bad.empty, (level, bad.head())


def test_failed_build_keeps_previous_version(built, demo_src, locator, monkeypatch):
    import service.analysis.mpi
    from service.pipeline import build_version

    settings, version = built

    def broken(*args, **kwargs):
        raise RuntimeError("scoring crashed")

    monkeypatch.setattr(service.analysis.mpi, "score_persons", broken)
    with pytest.raises(RuntimeError, match="scoring crashed"):
        build_version(settings, dataset="demo", round=2562, persons_dir=demo_src,
                      source_sha256="9" * 64, progress=False, locator=locator)
    store = open_store(settings)
    assert store.current("demo").id == version.id
    assert not list((store.root / "demo").glob(".building-*"))


def test_second_round_and_comparison(tmp_path, demo_src, locator):
    from service.pipeline import build_version

    settings = load_settings({"data_dir": str(tmp_path / "var")}, environ={})
    first = build_version(settings, dataset="demo", round=2561, persons_dir=demo_src,
                          progress=False, locator=locator)
    # next round: the same people, a tenth of the poor households got out of poverty
    src2 = tmp_path / "round2" / "persons"
    src2.mkdir(parents=True)
    raw = pl.read_parquet(demo_src / "persons" / "TH75.parquet")
    ind_cols = [c for c in raw.columns if c.startswith("ind")]
    lifted = raw.with_columns(
        [pl.when(pl.col("hh_id").hash(1) % 10 == 0).then(pl.col(c) * 0).otherwise(pl.col(c))
         .alias(c) for c in ind_cols])
    lifted.write_parquet(src2 / "TH75.parquet")
    second = build_version(settings, dataset="demo", round=2562, persons_dir=src2.parent,
                           progress=False, locator=locator)
    store = open_store(settings)
    assert store.current("demo").id == second.id
    assert [v.round for v in store.versions("demo")] == [2562, 2561]
    diff = compare_versions(store, "demo", first.id, second.id, "amphoe")
    row = diff.iloc[0]
    # demo households are rarely deprived in enough dimensions to be MPI-poor at k = 26 %,
    # so the TPMAP union counts carry the change
    assert row["d_n_target_poor"] < 0 and row["d_n_deprived_any"] < 0
    assert row["d_n_poor"] <= 0 and row["d_m0"] <= 0
    assert row["n_target_poor_new"] - row["n_target_poor_old"] == row["d_n_target_poor"]


def test_missing_person_files_error(tmp_path):
    from service.errors import InvalidInput
    from service.pipeline import build_version

    settings = load_settings({"data_dir": str(tmp_path / "var")}, environ={})
    with pytest.raises(InvalidInput, match="no person Parquet"):
        build_version(settings, dataset="demo", round=1, persons_dir=tmp_path, progress=False)


def test_cli_datasets_and_unchanged_aggregate(built, demo_src, monkeypatch):
    from click.testing import CliRunner

    from service.cli import main

    settings, version = built
    monkeypatch.setenv("CHIPAO_DATA_DIR", settings["data_dir"])
    runner = CliRunner()
    listed = runner.invoke(main, ["datasets", "list"])
    assert listed.exit_code == 0, listed.output
    assert f"* {version.id}" in listed.output
    bare = runner.invoke(main, ["datasets"])  # README: `chipao datasets` lists versions
    assert bare.exit_code == 0 and bare.output == listed.output
    same = runner.invoke(main, ["aggregate", "--dataset", "demo", "--persons", str(demo_src),
                                "--round", "2561", "--no-progress"])
    assert same.exit_code == 0, same.output
    assert "unchanged" in same.output
    one = runner.invoke(main, ["datasets", "compare", "--dataset", "demo"])
    assert one.exit_code != 0 and "only one version" in one.output
    audited = runner.invoke(main, ["datasets", "audit", "--dataset", "demo"])
    assert audited.exit_code == 0, audited.output
    assert "passed" in audited.output and "tambon minus h3_r9" in audited.output
    missing = runner.invoke(main, ["aggregate", "--dataset", "nothing-here"])
    assert missing.exit_code != 0 and "no ready version" in missing.output


def test_locate_by_runs_equals_per_row(locator, demo_src):
    import numpy as np

    from service.geo import hexgrid
    from service.geo.locate import assign_tambon
    from service.pipeline import locate_frame

    raw = pl.read_parquet(demo_src / "persons" / "TH75.parquet").head(3000)
    # shuffle (households no longer contiguous), break some points, move some out of Thailand
    raw = raw.sample(fraction=1.0, shuffle=True, seed=3).with_row_index("i").with_columns(
        pl.when(pl.col("i") % 17 == 5).then(None).otherwise(pl.col("lon")).alias("lon"),
        pl.when(pl.col("i") % 23 == 7).then(pl.lit(120.0)).otherwise(pl.col("lat"))
        .alias("lat")).drop("i")
    out, report = locate_frame(raw, locator)
    tambon, source = assign_tambon(raw["lon"], raw["lat"], raw["village_id"],
                                   raw["tambon_code"], locator)
    assert out["tambon_located"].to_list() == tambon.to_list()
    assert out["locate_source"].to_list() == source.to_list()
    by_point = (source == "point").to_numpy()
    cells = hexgrid.cell_columns(np.where(by_point, raw["lon"].fill_null(np.nan), np.nan),
                                 np.where(by_point, raw["lat"].fill_null(np.nan), np.nan))
    assert out["h3_r9"].fill_null(0).to_numpy().tolist() == cells["h3_r9"].tolist()
    assert report["n_rows"] == 3000
    assert report["coords_missing"] == raw["lon"].is_null().sum()
    assert report["coords_outside"] > 0
    assert sum(report["by_source"].values()) == 3000
    # a file whose first row has no coordinates
    head_missing = raw.with_row_index("i").with_columns(
        pl.when(pl.col("i") == 0).then(None).otherwise(pl.col("lon")).alias("lon")).drop("i")
    out2, _ = locate_frame(head_missing, locator)
    assert out2["locate_source"][0] == "village"
    assert out2["tambon_located"][0] == head_missing["village_id"][0][:8]
    assert out2["h3_r9"][0] is None


def test_population_raster_columns(tmp_path, demo_src, locator):
    import numpy as np
    import rasterio
    from affine import Affine

    from service.pipeline import build_version

    # 0.01° pixels of 40 people over Samut Songkhram
    west, north, size = 99.80, 13.55, 0.01
    values = np.full((40, 35), 40.0, dtype=np.float32)
    tif = tmp_path / "pop.tif"
    with rasterio.open(tif, "w", driver="GTiff", height=values.shape[0],
                       width=values.shape[1], count=1, dtype="float32", crs="EPSG:4326",
                       transform=Affine(size, 0, west, 0, -size, north), nodata=-1) as dst:
        dst.write(values, 1)
    settings = load_settings({"data_dir": str(tmp_path / "var"),
                              "population_raster": str(tif)}, environ={})
    version = build_version(settings, dataset="demo", round=2561, persons_dir=demo_src,
                            progress=False, locator=locator)
    assert version.meta["population_raster"] == "pop.tif"
    store = open_store(settings)
    tambons = store.read_areas("demo", "tambon")
    amphoe = store.read_areas("demo", "amphoe")
    assert (tambons["pop_raster"] > 0).all()
    assert amphoe["pop_raster"].iloc[0] == pytest.approx(tambons["pop_raster"].sum())
    expected_gap = 1 - tambons["n_persons"] / tambons["pop_raster"]
    judged = tambons["pop_raster"] >= 100
    assert np.allclose(tambons.loc[judged, "survey_gap"], expected_gap[judged])
    cells = store.read_areas("demo", "h3_r7")
    assert cells["pop_raster"].notna().any()
    # the next round reuses the raster's zonal sums (cached by file and boundaries): same values
    assert list((tmp_path / "var" / "cache").glob("raster-sums-*.npz"))
    again = build_version(settings, dataset="demo", round=2562, persons_dir=demo_src,
                          source_sha256="the same persons as round 2562", progress=False,
                          locator=locator)
    assert again.id != version.id
    for level in ("tambon", "h3_r7", "h3_r9"):
        before = store.read_areas("demo", level, version=version.id).set_index("code")
        after = store.read_areas("demo", level, version=again.id).set_index("code")
        assert np.allclose(before["pop_raster"], after.loc[before.index, "pop_raster"],
                           equal_nan=True)
