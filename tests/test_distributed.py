"""The per-province stages on a dask LocalCluster of worker processes give the same version,
byte for byte, as the single-process build (two rounds, so the panel partials travel too)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from service.settings import load_settings

pytestmark = pytest.mark.slow
PROVINCES = ["TH75", "TH58"]


@pytest.fixture(scope="module")
def rounds(tmp_path_factory):
    """Two rounds of two small provinces; round 2 lost a tenth of the households."""
    from service.demo.generate import generate

    first = tmp_path_factory.mktemp("round1")
    generate(provinces=PROVINCES, amphoes=["TH7502", "TH5802"], seed=3, out=first)
    second = tmp_path_factory.mktemp("round2")
    (second / "persons").mkdir()
    for path in sorted((first / "persons").glob("*.parquet")):
        frame = pl.read_parquet(path)
        keep = frame["hh_id"].unique().sort().gather_every(10, offset=1)
        frame.filter(~pl.col("hh_id").is_in(keep.implode())).write_parquet(
            second / "persons" / path.name)
    return first, second


@pytest.fixture(scope="module")
def locator_cache(tmp_path_factory):
    from service.geo.boundaries import load_level
    from service.geo.locate import TambonLocator

    cache = tmp_path_factory.mktemp("locator-cache")
    bdir = load_settings(environ={})["boundaries_dir"]
    return cache, TambonLocator(load_level(bdir, "tambon"), cache_dir=cache)


def _files(version_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(version_dir)): p.read_bytes()
            for p in sorted(version_dir.rglob("*.parquet"))}


def test_dask_build_equals_single_process_build(tmp_path, rounds, locator_cache):
    from service.distributed import DaskProvinces
    from service.pipeline import build_version

    cache, locator = locator_cache
    single = load_settings({"data_dir": str(tmp_path / "single")}, environ={})
    spread = load_settings({"data_dir": str(tmp_path / "dask")}, environ={})
    want = [build_version(single, dataset="demo", round=2561 + i, persons_dir=src,
                          progress=False, locator=locator) for i, src in enumerate(rounds)]
    with DaskProvinces.connect(spread, workers=2) as executor:
        executor.locator_cache_dir = cache
        assert len(executor.client.scheduler_info()["workers"]) == 2
        got = [build_version(spread, dataset="demo", round=2561 + i, persons_dir=src,
                             progress=False, executor=executor) for i, src in enumerate(rounds)]
    assert "panel" in got[1].meta and got[1].meta["panel"]["previous_version"] == got[0].id
    for w, g in zip(want, got, strict=True):
        mine, theirs = _files(Path(w.path)), _files(Path(g.path))
        assert sorted(mine) == sorted(theirs)
        assert {f"persons/{p}.parquet" for p in PROVINCES} <= set(mine)
        assert "areas/h3_r9.parquet" in mine and "areas/village.parquet" in mine
        different = [name for name in mine if mine[name] != theirs[name]]
        assert different == []
        assert (w.n_persons, w.n_households) == (g.n_persons, g.n_households)
        assert w.meta["locate"] == g.meta["locate"]
        assert w.meta["dc_suppressed"] == g.meta["dc_suppressed"]
    areas = pl.read_parquet(Path(got[1].path) / "areas" / "province.parquet")
    assert sorted(areas["code"]) == sorted(PROVINCES)
    assert (areas["pnl_hh_left"] > 0).all()  # the households dropped in round 2


_DIGEST = """
import glob, hashlib, sys
import polars as pl
from service.analysis.aggregate import Aggregator
agg = Aggregator()
for f in sorted(glob.glob(sys.argv[1] + "/persons/*.parquet")):
    agg.add(pl.read_parquet(f))
for level, table in agg.finish().items():
    print(level, hashlib.sha256(table.write_csv().encode()).hexdigest())  # exact floats
"""


def test_area_tables_do_not_depend_on_threads(tmp_path):
    """Float sums (sum_c_poor, village coordinates) are exact integer sums: one thread and
    several give the same bytes (they differed in the last digits before)."""
    import os
    import subprocess
    import sys

    from test_aggregate import make_scored

    (tmp_path / "persons").mkdir()
    for i, tambons in enumerate([("TH750101", "TH750102"), ("TH580101", "TH580201")]):
        make_scored(6000, seed=i, tambons=tambons).write_parquet(
            tmp_path / "persons" / f"{tambons[0][:4]}.parquet")
    digests = []
    for threads in ("1", "2", "2"):
        env = {**os.environ, "POLARS_MAX_THREADS": threads, "PYTHONPATH": os.getcwd()}
        digests.append(subprocess.run([sys.executable, "-c", _DIGEST, str(tmp_path)], env=env,
                                      capture_output=True, text=True).stdout)
    assert "village" in digests[0]
    assert digests[0] == digests[1] == digests[2]


def test_dask_build_without_shared_directory_over_s3(tmp_path, rounds, locator_cache, s3,
                                                      monkeypatch):
    """Versions in object storage and workers that share no directory with the build
    (``ship``): every task gets its files as bytes (no path of the build machine), and the
    two rounds are the same versions, byte for byte, as single-process builds."""
    from service.distributed import DaskProvinces
    from service.pipeline import build_version

    _, locator = locator_cache
    single = load_settings({"data_dir": str(tmp_path / "single")}, environ={})
    spread = load_settings({"data_dir": str(tmp_path / "dask"), "datasets_url": s3["url"],
                            "s3_endpoint_url": s3["endpoint"]}, environ={})
    want = [build_version(single, dataset="demo", round=2561 + i, persons_dir=src,
                          progress=False, locator=locator) for i, src in enumerate(rounds)]
    sent: list[object] = []
    with DaskProvinces.connect(spread, workers=2, ship=True) as executor:
        submit = executor.client.submit
        monkeypatch.setattr(executor.client, "submit",
                            lambda fn, *args, **kw: sent.extend(args) or submit(fn, *args, **kw))
        got = [build_version(spread, dataset="demo", round=2561 + i, persons_dir=src,
                             progress=False, executor=executor) for i, src in enumerate(rounds)]
    local = [str(tmp_path), *(str(r) for r in rounds)]
    paths = [a for a in sent if isinstance(a, (str, Path)) and any(str(a).startswith(p)
                                                                    for p in local)]
    assert len(sent) == 2 * 2 * 7 and paths == []
    assert got[1].meta["panel"]["previous_version"] == got[0].id
    keys = s3["client"].list_objects_v2(Bucket=s3["bucket"])["Contents"]
    assert {f"chipao/demo/{g.id}/manifest.json" for g in got} <= {k["Key"] for k in keys}
    for w, g in zip(want, got, strict=True):
        mine, theirs = _files(Path(w.path)), _files(Path(g.path))
        assert sorted(mine) == sorted(theirs) and {f"persons/{p}.parquet" for p in PROVINCES} \
            <= set(mine)
        assert [name for name in mine if mine[name] != theirs[name]] == []
