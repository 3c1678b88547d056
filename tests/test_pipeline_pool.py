"""The per-province stages in a pool of local processes (service.pipeline.ProcessProvinces,
what `chipao demo` uses on a multi-core machine) give the same versions, byte for byte, as
the one-process build: two rounds, so the panel partials travel between processes too."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from service.settings import load_settings


@pytest.fixture(scope="module")
def rounds(tmp_path_factory):
    """Two rounds of the demo panel of two small provinces (three amphoes)."""
    from service.demo.panel import generate_panel, round_dir

    out = tmp_path_factory.mktemp("panel")
    generate_panel([2561, 2562], seed=11, out=out, amphoes=["TH7502", "TH5802", "TH5803"])
    return [round_dir(out, 2561), round_dir(out, 2562)]


def _files(version_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(version_dir)): p.read_bytes()
            for p in sorted(version_dir.rglob("*.parquet"))}


def test_process_pool_build_equals_one_process_build(tmp_path, rounds):
    from service.geo.boundaries import load_level
    from service.geo.locate import TambonLocator
    from service.pipeline import ProcessProvinces, build_version

    cache = tmp_path / "cache"
    single = load_settings({"data_dir": str(tmp_path / "single")}, environ={})
    pooled = load_settings({"data_dir": str(tmp_path / "pool")}, environ={})
    locator = TambonLocator(load_level(single.boundaries_dir, "tambon"), cache_dir=cache)
    want = [build_version(single, dataset="demo", round=2561 + i, persons_dir=src,
                          progress=False, locator=locator) for i, src in enumerate(rounds)]
    pool = ProcessProvinces(single.boundaries_dir, cache, workers=2)
    got = [build_version(pooled, dataset="demo", round=2561 + i, persons_dir=src,
                         progress=False, locator=locator, executor=pool)
           for i, src in enumerate(rounds)]
    assert got[1].meta["panel"]["previous_version"] == got[0].id
    for w, g in zip(want, got, strict=True):
        mine, theirs = _files(Path(w.path)), _files(Path(g.path))
        assert sorted(mine) == sorted(theirs)
        assert {"persons/TH58.parquet", "persons/TH75.parquet", "areas/h3_r9.parquet",
                "areas/village.parquet"} <= set(mine)
        assert [name for name in mine if mine[name] != theirs[name]] == []
        assert w.meta["locate"] == g.meta["locate"]
    areas = pl.read_parquet(Path(got[1].path) / "areas" / "province.parquet")
    assert sorted(areas["code"]) == ["TH58", "TH75"]
    assert (areas["pnl_hh_matched"] > 0).all()
