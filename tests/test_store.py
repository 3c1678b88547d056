"""Store: catalog rows, atomic version writes, reads, comparison of rounds."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pandas as pd
import polars as pl
import pytest
from test_aggregate import make_scored

from service.analysis.aggregate import aggregate
from service.errors import InvalidInput, NotFound
from service.settings import load_settings
from service.store import compare_versions, open_store

pytestmark = pytest.mark.both_databases  # SQLite and PostgreSQL catalogs (conftest.py)


@pytest.fixture
def settings(tmp_path, database_url):
    return load_settings({"data_dir": str(tmp_path / "var"),
                          **({"database_url": database_url} if database_url else {})},
                         environ={})


def _write(store, dataset, round_, sha, scored):
    tables = aggregate(scored)
    with store.write_version(dataset, round=round_, source_sha256=sha) as w:
        scored.write_parquet(w.persons_path("TH75"))
        for level, frame in tables.items():
            frame.write_parquet(w.areas_path(level))
        country = tables["country"].row(0, named=True)
        return w.publish(n_persons=country["n_persons"], n_households=country["n_households"],
                         meta={"levels": {k: len(v) for k, v in tables.items()}})


def test_write_read_roundtrip(settings):
    store = open_store(settings)
    scored = make_scored(200, seed=11)
    version = _write(store, "demo", 2561, "a" * 64, scored)
    assert store.current("demo").id == version.id
    assert version.current and version.n_persons == len(scored)
    assert [v.id for v in store.versions("demo")] == [version.id]
    tambons = store.read_areas("demo", "tambon")
    assert isinstance(tambons, pd.DataFrame)
    assert tambons["n_households"].sum() == scored["hh_id"].n_unique()
    only = store.read_areas("demo", "tambon", province="TH75")
    assert len(only) == len(tambons)
    assert store.read_areas("demo", "tambon", province="TH10").empty
    persons = store.read_persons("demo", "TH75")
    assert persons.height == len(scored)
    assert version.to_dict()["levels"]["country"] == 1
    assert "path" not in version.to_dict()


def test_new_round_becomes_current_and_compares(settings):
    store = open_store(settings)
    old = _write(store, "demo", 2561, "a" * 64, make_scored(200, seed=11))
    new = _write(store, "demo", 2562, "b" * 64, make_scored(200, seed=12))
    assert store.current("demo").id == new.id
    assert [v.id for v in store.versions("demo")] == [new.id, old.id]
    diff = compare_versions(store, "demo", old.id, new.id, "tambon")
    a = store.read_areas("demo", "tambon", version=old.id).set_index("code")
    b = store.read_areas("demo", "tambon", version=new.id).set_index("code")
    row = diff.set_index("code").loc[b.index[0]]
    assert row["d_m0"] == pytest.approx(b["m0"].iloc[0] - a.loc[b.index[0], "m0"])
    assert row["d_n_poor"] == b["n_poor"].iloc[0] - a.loc[b.index[0], "n_poor"]
    assert "d_cov_child_grant" in diff.columns


def test_failed_build_leaves_previous_current(settings):
    store = open_store(settings)
    old = _write(store, "demo", 2561, "a" * 64, make_scored(50, seed=1))
    with pytest.raises(RuntimeError, match="boom"):
        with store.write_version("demo", round=2562, source_sha256="c" * 64) as w:
            pl.DataFrame({"x": [1]}).write_parquet(w.areas_path("tambon"))
            raise RuntimeError("boom")
    assert store.current("demo").id == old.id
    assert [p.name for p in (store.root / "demo").iterdir() if not p.name.startswith(".")] \
        == [old.id]
    assert [v.status for v in store.catalog.versions("demo", status=None)] == ["failed", "ready"]


def test_unpublished_write_is_an_error(settings):
    store = open_store(settings)
    with pytest.raises(RuntimeError, match="not published"):
        with store.write_version("demo", round=2561, source_sha256="d" * 64):
            pass
    with pytest.raises(NotFound):
        store.current("demo")


def test_killed_build_is_cleaned_and_previous_served(settings, tmp_path):
    store = open_store(settings)
    old = _write(store, "demo", 2561, "a" * 64, make_scored(50, seed=1))
    before = sorted((p.relative_to(store.root), p.read_bytes())
                    for p in (store.root / "demo" / old.id).rglob("*") if p.is_file())
    script = textwrap.dedent(f"""
        import os
        from service.settings import load_settings
        from service.store import open_store
        store = open_store(load_settings({{"data_dir": {settings['data_dir']!r},
                                          "database_url": {settings['database_url']!r}}},
                                         environ={{}}))
        with store.write_version("demo", round=2562, source_sha256="e" * 64) as w:
            w.areas_path("tambon").write_bytes(b"half")
            os._exit(9)  # killed mid-write: no cleanup runs
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=os.getcwd(), check=False)
    assert proc.returncode == 9
    store = open_store(settings)
    assert store.current("demo").id == old.id
    assert len(store.catalog.stale_builds("demo")) == 1
    new = _write(store, "demo", 2562, "f" * 64, make_scored(50, seed=2))
    assert store.catalog.stale_builds("demo") == []
    leftovers = [p.name for p in (store.root / "demo").iterdir() if p.name != ".lock"]
    assert sorted(leftovers) == sorted([old.id, new.id])
    after = sorted((p.relative_to(store.root), p.read_bytes())
                   for p in (store.root / "demo" / old.id).rglob("*") if p.is_file())
    assert after == before


def test_bad_names_and_levels(settings):
    store = open_store(settings)
    with pytest.raises(InvalidInput):
        with store.write_version("../etc", round=1, source_sha256="0" * 64):
            pass
    _write(store, "demo", 2561, "a" * 64, make_scored(20, seed=1))
    with pytest.raises(InvalidInput):
        store.read_areas("demo", "district")
    with pytest.raises(InvalidInput):
        store.read_persons("demo", "../TH75")
    with pytest.raises(NotFound):
        store.read_persons("demo", "TH10")
    with pytest.raises(NotFound):
        store.read_areas("nope", "tambon")
    with pytest.raises(NotFound):
        store.version("demo", "r1-nope")


def test_area_geometries(settings):
    store = open_store(settings)
    scored = make_scored(80, seed=3)
    _write(store, "demo", 2561, "a" * 64, scored)
    tam = store.area_geometries("tambon", ["TH750101", "TH750102"])
    assert sorted(tam["code"]) == ["TH750101", "TH750102"]
    assert (~tam.geometry.is_empty).all()
    cells = store.read_areas("demo", "h3_r8")["code"].tolist()
    polys = store.area_geometries("h3_r8", cells[:3])
    assert list(polys["code"]) == cells[:3] and polys.geometry.geom_type.eq("Polygon").all()
    villages = store.read_areas("demo", "village")
    pts = store.area_geometries("village", villages["code"][:2].tolist(), dataset="demo")
    assert len(pts) == 2 and pts.geometry.geom_type.eq("Point").all()


def test_same_source_checked_again_under_the_lock(settings):
    from service.store.store import SourceAlreadyStored

    store = open_store(settings)
    first = _write(store, "demo", 2561, "a" * 64, make_scored(30, seed=1))
    # a second builder that checked before the first finished finds it under the lock
    with pytest.raises(SourceAlreadyStored) as info:
        with store.write_version("demo", round=2561, source_sha256="a" * 64):
            pass
    assert info.value.version.id == first.id
    assert len(store.catalog.versions("demo", status=None)) == 1
