"""The per-province stages' fast paths give exactly what the plain expressions give:
household flags from runs of consecutive members (service.analysis.mpi._household_flags),
the locate report from run heads (service.pipeline.locate_frame), columns added without an
eager with_columns (service.pipeline.with_series)."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from service.analysis import groups as groups_mod
from service.analysis.coverage import load_programmes
from service.analysis.mpi import score_persons
from service.analysis.spec import load_spec
from service.settings import load_settings


@pytest.fixture(scope="module")
def persons(tmp_path_factory):
    from service.demo.generate import generate

    out = tmp_path_factory.mktemp("fast-src")
    generate(provinces=["TH75"], amphoes=["TH7501"], seed=11, out=out)
    return pl.read_parquet(out / "persons" / "TH75.parquet")


@pytest.fixture(scope="module")
def locator():
    from service.geo.boundaries import load_level
    from service.geo.locate import TambonLocator

    return TambonLocator(load_level(load_settings(environ={})["boundaries_dir"], "tambon"))


def _windows(frame: pl.DataFrame, spec) -> pl.DataFrame:
    """The household flags as plain polars windows over hh_id (the lazy path's exprs)."""
    return frame.with_columns(
        groups_mod.household_any(pl.col("mpi_poor")).alias("hh_mpi_poor"),
        groups_mod.crossgen_expr(spec.crossgen_dimensions))


@pytest.mark.parametrize("layout", ["as listed", "shuffled", "null ids apart", "one null run"])
def test_household_flags_equal_the_windows(persons, layout):
    # a low cutoff: more poor households to tell the paths apart
    spec, prog = load_spec("tpmap").with_k(0.1), load_programmes(None)
    frame = persons
    if layout == "shuffled":  # members apart: the window path must be taken
        frame = frame.sample(fraction=1.0, shuffle=True, seed=5)
    elif layout == "null ids apart":  # nulls in two places are one household for polars
        frame = frame.with_row_index("i").with_columns(
            pl.when(pl.col("i").is_in([3, 4, 40_000])).then(None).otherwise(pl.col("hh_id"))
            .alias("hh_id")).drop("i")
    elif layout == "one null run":
        frame = frame.with_row_index("i").with_columns(
            pl.when(pl.col("i").is_between(10, 14)).then(None).otherwise(pl.col("hh_id"))
            .alias("hh_id")).drop("i")
    eager = score_persons(frame, spec, prog)
    lazy = score_persons(frame.lazy(), spec, prog).collect()
    assert eager.columns == lazy.columns
    assert eager.columns[-2:] == ["hh_mpi_poor", "hh_crossgen"]
    assert_frame_equal(eager, lazy)
    reference = _windows(eager.drop("hh_mpi_poor", "hh_crossgen"), spec)
    assert_frame_equal(eager, reference)
    # the flags are not trivially constant: some poor and some crossgen households
    assert 0 < eager["hh_mpi_poor"].sum() < eager.height
    assert 0 < eager["hh_crossgen"].sum() < eager.height


def test_household_flags_of_an_empty_frame(persons):
    spec, prog = load_spec("tpmap"), load_programmes(None)
    empty = persons.head(0)
    assert_frame_equal(score_persons(empty, spec, prog),
                       score_persons(empty.lazy(), spec, prog).collect())


def test_locate_report_equals_the_per_row_counts(persons, locator):
    from service.pipeline import locate_frame

    raw = persons.with_row_index("i").with_columns(
        pl.when(pl.col("i") % 13 == 2).then(None).otherwise(pl.col("lon")).alias("lon"),
        pl.when(pl.col("i") % 29 == 3).then(pl.lit(125.0)).otherwise(pl.col("lat"))
        .alias("lat"),
        pl.when(pl.col("i") % 31 == 4).then(pl.lit("TH750102")).otherwise(pl.col("tambon_code"))
        .alias("tambon_code")).drop("i")
    out, report = locate_frame(raw, locator)
    per_row = out.select(
        pl.len().alias("n_rows"),
        (pl.col("lon").is_null() | pl.col("lat").is_null()).sum().alias("coords_missing"),
        (pl.col("lon").is_not_null() & pl.col("lat").is_not_null()
         & (pl.col("locate_source") != "point")).sum().alias("coords_outside"),
        ((pl.col("locate_source") == "point") & pl.col("tambon_code").is_not_null()
         & (pl.col("tambon_located") != pl.col("tambon_code"))).sum()
        .alias("point_disagrees_with_record"),
    ).row(0, named=True)
    for key, value in per_row.items():
        assert report[key] == value, key
    assert report["coords_outside"] > 0 and report["point_disagrees_with_record"] > 0
    assert report["by_source"] == {str(k): int(v) for k, v in
                                   out["locate_source"].value_counts().iter_rows()}
    assert out.columns == [*raw.columns, "tambon_located", "locate_source",
                           "h3_r6", "h3_r7", "h3_r8", "h3_r9"]


def test_with_series_equals_with_columns(persons):
    from service.pipeline import with_series

    new = [pl.Series("age", persons["age"] + 1), pl.Series("extra", range(persons.height))]
    assert_frame_equal(with_series(persons, new), persons.with_columns(new))
    with pytest.raises(ValueError, match="rows"):
        with_series(persons, [pl.Series("short", [1, 2])])
