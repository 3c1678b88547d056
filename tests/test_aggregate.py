"""Aggregation: totals conserved across levels, ratios from sums, household counting."""

from __future__ import annotations

import h3
import numpy as np
import polars as pl
import pytest

from service.analysis.aggregate import Aggregator, CountSpec, aggregate
from service.vocabulary import LEVELS

PROGRAMMES = ("welfare_card", "elderly_allowance", "child_grant")
GROUPS = ("child", "woman", "elderly", "disabled", "chronic")
INDICATORS = ("ind8", "ind20", "ind22")
DIMENSIONS = ("living", "income")


def make_scored(n_households: int = 400, *, seed: int = 0,
                tambons: tuple[str, ...] = ("TH750101", "TH750102", "TH750201", "TH750301"),
                with_cells: bool = True) -> pl.DataFrame:
    """Hand-made scored persons (CONTRACT §1 + §2 columns the aggregator reads).

    Households of 1-6 members share a village, a tambon and a point; points sit in small
    clusters so H3 cells hold several households. Used by the store/disclosure tests too.
    """
    rng = np.random.default_rng(seed)
    size = rng.integers(1, 7, n_households)
    hh = np.repeat(np.arange(n_households), size)
    n = len(hh)
    tambon_of_hh = rng.choice(np.array(tambons), n_households)
    moo_of_hh = rng.integers(1, 6, n_households)
    village_of_hh = np.array([f"{t}{m:02d}" for t, m in zip(tambon_of_hh, moo_of_hh, strict=True)])
    # village centres on a grid, households scattered ~200 m around them
    base = {v: (99.9 + 0.02 * i, 13.3 + 0.01 * (i % 7)) for i, v in enumerate(sorted(set(
        village_of_hh)))}
    lon_hh = np.array([base[v][0] for v in village_of_hh]) + rng.normal(0, 0.002, n_households)
    lat_hh = np.array([base[v][1] for v in village_of_hh]) + rng.normal(0, 0.002, n_households)
    c = rng.choice([0.0, 0.1, 0.25, 0.35, 0.5, 0.8], n).astype(np.float32)
    age = rng.integers(0, 90, n).astype(np.int16)
    sex = rng.choice(["M", "F"], n)
    poor = c >= 0.26
    frame = pl.DataFrame({
        "person_id": [f"p{i}" for i in range(n)],
        "hh_id": [f"h{seed}-{i}" for i in hh],
        "village_id": village_of_hh[hh],
        "tambon_located": tambon_of_hh[hh],
        "lon": lon_hh[hh], "lat": lat_hh[hh],
        "age": age, "sex": sex,
        "mpi_c": c, "mpi_poor": poor, "mpi_vulnerable": (c >= 0.2) & ~poor,
        "mpi_severe": c >= 0.5,
        "tpmap_deprived_any": c > 0,
        "tpmap_target_poor": (c > 0) & (rng.random(n) < 0.4),
    })
    for ind in INDICATORS:
        vals = rng.choice([0, 1, -1], n)
        frame = frame.with_columns(pl.Series(f"dep_{ind}", vals, dtype=pl.Int8)
                                   .replace(-1, None))
    frame = frame.with_columns(
        [pl.Series(f"tpmap_dim_{d}", rng.random(n) < 0.3) for d in DIMENSIONS]
        + [pl.Series("grp_child", age < 18), pl.Series("grp_woman", (sex == "F") & (age >= 18)),
           pl.Series("grp_elderly", age >= 60), pl.Series("grp_disabled", rng.random(n) < 0.05),
           pl.Series("grp_chronic", rng.random(n) < 0.1)]
        + [pl.Series(f"elig_{p}", rng.random(n) < 0.5) for p in PROGRAMMES]
        + [pl.Series(f"cov_{p}", rng.random(n) < 0.5) for p in PROGRAMMES])
    hh_poor = frame.group_by("hh_id").agg(pl.col("mpi_poor").any().alias("hh_mpi_poor"),
                                          (pl.col("mpi_poor").any() & (pl.col("age") < 18).any())
                                          .alias("hh_crossgen"))
    frame = frame.join(hh_poor, on="hh_id", how="left", maintain_order="left")
    if with_cells:
        cells = {r: np.array([h3.str_to_int(h3.latlng_to_cell(la, lo, r))
                              for la, lo in zip(lat_hh, lon_hh, strict=True)], dtype=np.uint64)
                 for r in (6, 7, 8, 9)}
        frame = frame.with_columns([pl.Series(f"h3_r{r}", cells[r][hh]) for r in cells])
    return frame


@pytest.fixture(scope="module")
def scored() -> pl.DataFrame:
    return make_scored(600, seed=1)


@pytest.fixture(scope="module")
def tables(scored) -> dict[str, pl.DataFrame]:
    # two batches (as two province files would be) must give the same result as one
    halves = [scored.filter(pl.col("tambon_located").str.starts_with("TH7501")),
              scored.filter(~pl.col("tambon_located").str.starts_with("TH7501"))]
    return aggregate(halves)


def test_every_level_present(tables):
    assert set(tables) == set(LEVELS)
    for level, frame in tables.items():
        assert frame["code"].n_unique() == len(frame), level
        assert (frame["level"] == level).all()


def test_totals_conserved_across_levels(tables, scored):
    spec = CountSpec.from_columns(scored.columns)
    country = tables["country"].row(0, named=True)
    assert country["n_persons"] == len(scored)
    assert country["n_households"] == scored["hh_id"].n_unique()
    assert country["n_poor"] == int(scored["mpi_poor"].sum())
    for level in LEVELS[1:]:
        frame = tables[level]
        for col in spec.count_columns():
            total = frame[col].sum()
            if col.startswith("sum_"):
                assert total == pytest.approx(country[col], rel=1e-9), (level, col)
            else:
                assert total == country[col], (level, col)


def test_children_sum_to_parent(tables):
    for child, parent in (("village", "tambon"), ("tambon", "amphoe"), ("amphoe", "province"),
                          ("h3_r9", "h3_r8"), ("h3_r8", "h3_r7"), ("h3_r7", "h3_r6")):
        sums = tables[child].group_by("parent_code").agg(pl.col("n_households").sum(),
                                                         pl.col("n_poor").sum())
        joined = sums.join(tables[parent].select("code", "n_households", "n_poor"),
                           left_on="parent_code", right_on="code", suffix="_parent")
        assert len(joined) == len(tables[parent]), child
        assert (joined["n_households"] == joined["n_households_parent"]).all(), child
        assert (joined["n_poor"] == joined["n_poor_parent"]).all(), child


def test_ratios_from_sums_not_mean_of_ratios(tables, scored):
    prov = tables["province"].row(0, named=True)
    rows = scored.filter(pl.col("tambon_located").str.starts_with(prov["code"]))
    assert prov["h"] == pytest.approx(rows["mpi_poor"].mean())
    c_poor = rows.filter(pl.col("mpi_poor"))["mpi_c"].cast(pl.Float64)
    assert prov["a"] == pytest.approx(c_poor.mean())
    assert prov["m0"] == pytest.approx(prov["h"] * prov["a"])
    elig = rows.filter(pl.col("elig_elderly_allowance"))
    assert prov["cov_elderly_allowance"] == pytest.approx(elig["cov_elderly_allowance"].mean())
    kids = rows.filter(pl.col("grp_child"))
    assert prov["h_child"] == pytest.approx(kids["mpi_poor"].mean())
    # the mean of tambon ratios differs from the ratio of sums in general
    tambon_mean = tables["tambon"]["h"].mean()
    assert tables["country"]["h"][0] != pytest.approx(tambon_mean, abs=1e-12)


def test_indicator_counts(tables, scored):
    country = tables["country"].row(0, named=True)
    dep = scored["dep_ind8"] == 1
    assert country["n_dep_ind8"] == int(dep.fill_null(False).sum())
    assert country["n_cdep_ind8"] == int((dep.fill_null(False) & scored["mpi_poor"]).sum())
    excl = scored["elig_child_grant"] & ~scored["cov_child_grant"]
    assert country["n_excl_child_grant"] == int(excl.sum())
    target_living = scored["tpmap_dim_living"] & scored["tpmap_target_poor"]
    assert country["n_target_poor_living"] == int(target_living.sum())


def test_household_counts(tables, scored):
    hh = scored.group_by("hh_id").agg(pl.col("hh_mpi_poor").first(),
                                      pl.col("tambon_located").first())
    expected = hh.group_by("tambon_located").agg(pl.len().alias("n"),
                                                 pl.col("hh_mpi_poor").sum().alias("p"))
    got = tables["tambon"].join(expected, left_on="code", right_on="tambon_located")
    assert (got["n_households"] == got["n"]).all()
    assert (got["n_poor_households"] == got["p"]).all()


def test_h3_identity(tables, scored):
    cells = tables["h3_r8"]
    first = cells.row(0, named=True)
    assert h3.is_valid_cell(first["code"]) and h3.get_resolution(first["code"]) == 8
    assert first["parent_code"] == h3.cell_to_parent(first["code"], 7)
    assert tables["h3_r6"]["parent_code"].is_null().all()
    assert set(cells["province_code"]) <= {"TH75"}


def test_cell_majority_province():
    a = make_scored(50, seed=3, tambons=("TH750101",))
    b = make_scored(20, seed=4, tambons=("TH740101",))
    # put province TH74's households in the same place as TH75's: one shared cell each res
    b = b.with_columns([pl.lit(a[f"h3_r{r}"][0]).alias(f"h3_r{r}") for r in (6, 7, 8, 9)])
    a = a.with_columns([pl.lit(a[f"h3_r{r}"][0]).alias(f"h3_r{r}") for r in (6, 7, 8, 9)])
    tables = aggregate([a, b])
    assert tables["h3_r9"]["province_code"].to_list() == ["TH75"]
    assert tables["h3_r9"]["n_households"][0] == 70
    assert tables["province"]["code"].to_list() == ["TH74", "TH75"]


def test_without_coordinates_counts_admin_only():
    frame = make_scored(40, seed=5)
    frame = frame.with_columns(pl.when(pl.col("hh_id").str.ends_with("1"))
                               .then(None).otherwise(pl.col("h3_r9")).alias("h3_r9"))
    agg = Aggregator()
    agg.add(frame)
    tables = agg.finish()
    assert tables["country"]["n_persons"][0] == len(frame)
    assert tables["h3_r9"]["n_persons"].sum() == len(frame) - agg.n_without_cell
    assert agg.n_without_cell > 0
    assert tables["h3_r6"]["n_persons"].sum() == tables["h3_r9"]["n_persons"].sum()


def test_missing_column_is_named():
    frame = make_scored(5, seed=6).drop("mpi_c")
    with pytest.raises(ValueError, match="mpi_c"):
        aggregate(frame)


def test_zero_denominator_gives_null():
    frame = make_scored(30, seed=7).with_columns(pl.lit(False).alias("grp_disabled"))
    country = aggregate(frame)["country"]
    assert country["n_disabled"][0] == 0
    assert country["h_disabled"][0] is None


def _moved_members(frame: pl.DataFrame) -> pl.DataFrame:
    """Every fifth household's last member recorded in another household's village, tambon
    and place (a split household), and the rows shuffled (members not listed together)."""
    last = pl.col("person_id") == pl.col("person_id").last().over("hh_id")
    moved = last & (pl.col("hh_id").str.extract(r"(\d+)$").cast(pl.Int64) % 5 == 0)
    cols = ["village_id", "tambon_located", "lon", "lat", "h3_r6", "h3_r7", "h3_r8", "h3_r9"]
    out = frame.with_columns(pl.when(moved).then(pl.col(c).shift(-7)).otherwise(pl.col(c))
                             .alias(c) for c in cols).drop_nulls("h3_r9")
    return out.sample(fraction=1.0, shuffle=True, seed=11)


@pytest.mark.parametrize("level, area", [("tambon", "tambon_located"),
                                         ("village", "village_id"), ("h3_r9", "h3_r9")])
def test_split_households_listed_apart(level, area):
    """Households counted once, on their first member as listed, and present in every area
    where a member is, however their members are listed (the first member of a household is
    found from runs of rows; checked against a plain group-by over the persons)."""
    persons = _moved_members(make_scored(300, seed=8))
    first = persons.with_columns(pl.col("hh_id").is_first_distinct().alias("_first"))
    expected = first.group_by(area).agg(
        pl.col("_first").sum().cast(pl.Int32).alias("want_households"),
        pl.col("hh_id").n_unique().cast(pl.Int32).alias("want_present"))
    table = aggregate(persons)[level]
    key = (pl.col("cell") if level.startswith("h3_") else pl.col("code")).alias(area)
    got = table.select(key, "n_households", "n_hh_present").join(expected, on=area)
    assert got.height == table.height == expected.height
    assert (got["n_households"] == got["want_households"]).all()
    assert (got["n_hh_present"] == got["want_present"]).all()
    assert (got["n_hh_present"] > got["n_households"]).any()  # split households exist
