"""Map artefacts (service.render.artefacts): what a version's public maps need is built once
(`chipao maps warm`, service.usecases.map_warmup.build), kept on disk, and a restarted
server serves its first maps from it without recomputing the country-wide public decisions,
with exactly the bytes the on-demand path makes."""

from __future__ import annotations

import gzip

import api_dataset
import pandas as pd
import pytest

NATIONAL_R7 = "/maps/values/h3_r7.json"
PROVINCE_R9 = "/maps/values/h3_r9.json?scope=TH50"
PROVINCE_TAMBON = "/maps/values/tambon.json?scope=TH50"
FIRST_OPEN = (NATIONAL_R7, PROVINCE_R9, PROVINCE_TAMBON, "/maps/values/province.json")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(settings overrides, version ids) of a built store whose artefacts were written by
    `chipao maps warm`."""
    from click.testing import CliRunner

    from service.commands.maps import command

    tmp = tmp_path_factory.mktemp("maps-artefacts")
    app, _tokens, ids = api_dataset.build_app(tmp)
    data_dir = app.config["CHIPAO"]["data_dir"]
    result = CliRunner().invoke(command, ["warm"], env={
        "CHIPAO_DATA_DIR": data_dir, "CHIPAO_MIN_CELL_HOUSEHOLDS": "10"})
    assert result.exit_code == 0, result.output
    overrides = {"testing": True, "data_dir": data_dir, "secret_key": "t",
                 "rate_limit": "1000000 per minute", "min_cell_households": 10}
    return overrides, ids


def _restart(overrides, *, artefacts=True):
    """A fresh app over the same data directory (a restarted server); without
    ``artefacts`` the on-demand path (nothing read from or written to disk)."""
    from service import create_app
    from service.access.views import new_view_cache
    from service.api.services import services

    app = create_app(dict(overrides))
    if not artefacts:
        s = services(app)
        s.artefacts = None
        s.views = new_view_cache()
    return app


def _body(app, url):
    resp = app.test_client().get(url, headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200, resp.data[:300]
    return gzip.decompress(resp.data) if resp.headers.get("Content-Encoding") == "gzip" \
        else resp.data


def _forbid_recompute(monkeypatch):
    """Count country-wide suppression runs and values builds (both must not happen)."""
    from service.analysis import disclosure
    from service.usecases import map_values

    calls = {"suppress": 0, "values": 0}
    suppress, values_body = disclosure.suppress, map_values._values_body

    def counted_suppress(*a, **k):
        calls["suppress"] += 1
        return suppress(*a, **k)

    def counted_values(*a, **k):
        calls["values"] += 1
        return values_body(*a, **k)

    monkeypatch.setattr(disclosure, "suppress", counted_suppress)
    monkeypatch.setattr(map_values, "_values_body", counted_values)
    return calls


def test_restart_serves_first_maps_from_artefacts_with_on_demand_bytes(built, monkeypatch):
    overrides, _ids = built
    on_demand = {url: _body(_restart(overrides, artefacts=False), url) for url in FIRST_OPEN}
    calls = _forbid_recompute(monkeypatch)
    restarted = _restart(overrides)
    for url in FIRST_OPEN:
        assert _body(restarted, url) == on_demand[url], url
    assert calls == {"suppress": 0, "values": 0}  # read, not recomputed


def test_restart_builds_other_measures_from_stored_decisions(built, monkeypatch):
    """A measure other than the default is built on demand, but from the decisions on disk:
    no country-wide suppression, same bytes as the on-demand path."""
    overrides, _ids = built
    url = PROVINCE_R9 + "&measure=n_poor"
    expected = _body(_restart(overrides, artefacts=False), url)
    calls = _forbid_recompute(monkeypatch)
    assert _body(_restart(overrides), url) == expected
    assert calls["suppress"] == 0 and calls["values"] == 1


def test_stored_decisions_equal_computed_ones_at_every_level(built):
    from service.access.views import new_view_cache, public_mask
    from service.services import Services

    overrides, ids = built
    s = Services.create(overrides)
    hidden = 0
    for level in ("tambon", "village", "h3_r7", "h3_r9"):
        stored = public_mask(s.source, "demo", ids[-1], level, min_households=10,
                             cache=s.views)
        computed = public_mask(s.source, "demo", ids[-1], level, min_households=10,
                               cache=new_view_cache())
        assert s.artefacts.exists("demo", ids[-1], f"mask-{level}-k10.parquet")
        hidden += int(stored["suppressed"].sum())
        pd.testing.assert_frame_equal(stored, computed)
    assert hidden > 0  # villages of 3 and 8 households, small cells


def test_decisions_of_another_source_never_reach_the_disk(built):
    """A map source other than the app's store (tests, benchmarks) may hold other data
    under the same version id: its decisions stay in memory."""
    from service.access.views import public_mask
    from service.render.artefacts import Artefacts
    from service.render.sources import FrameSource
    from service.services import Services

    overrides, ids = built
    s = Services.create(overrides)
    frame = s.store.read_areas("demo", "tambon", version=ids[-1])
    s.views.artefacts = Artefacts(s.artefacts.root, fmt="other-source-test")
    source = FrameSource()
    source.add("demo", ids[-1], "tambon", frame)
    public_mask(source, "demo", ids[-1], "tambon", min_households=10, cache=s.views)
    assert not s.views.artefacts.names("demo", ids[-1])


def test_artefacts_of_other_code_are_ignored_and_pruned(tmp_path):
    from service.render.artefacts import Artefacts, code_format

    old = Artefacts(tmp_path, fmt="old-code")
    old.write_bytes("demo", "v1", "values-province-all.json.gz", b"stale")
    new = Artefacts(tmp_path)
    assert new.format == code_format() != "old-code"
    assert new.read_bytes("demo", "v1", "values-province-all.json.gz") is None
    new.write_bytes("demo", "v1", "a", b"1")
    new.write_bytes("demo", "gone", "a", b"1")
    removed = new.prune({"demo": {"v1"}})
    assert not old.directory.exists() and len(removed) == 2
    assert new.read_bytes("demo", "v1", "a") == b"1"
    assert new.read_bytes("demo", "gone", "a") is None


def test_place_names_are_looked_up_as_before(built):
    """Hierarchy.name reads a dict (a DataFrame .loc per name made the tooltips of the
    national H3 r7 map take 160 s): same names, same errors."""
    from service.geo import boundaries
    from service.settings import load_settings

    bdir = str(load_settings({}, environ={})["boundaries_dir"])
    h = boundaries.hierarchy(bdir)
    for table in (h.provinces, h.amphoes, h.tambons):
        for code in table.index[:: max(1, len(table) // 50)]:
            assert h.name(code) == str(table.loc[code, "name_th"])
            assert h.name(code, "en") == str(table.loc[code, "name_en"])
    with pytest.raises(KeyError):
        h.name("TH99")
    with pytest.raises(ValueError):
        h.name("not-a-code")


def test_aggregate_builds_the_new_versions_map_artefacts(monkeypatch, tmp_path):
    """`chipao aggregate` ends with the new version's artefacts (the pipeline's last step);
    not for an unchanged build, nor with --no-map-artefacts."""
    from types import SimpleNamespace

    from click.testing import CliRunner

    from service.commands import aggregate
    from service.usecases import builds, map_warmup

    built_for: list[tuple[str, str]] = []
    stages = {"aggregate": 1.0}

    def fake_build(settings, dataset, **kwargs):
        version = SimpleNamespace(id="r2562-new", round=2562, n_persons=1, n_households=1,
                                  meta={})
        return builds.Build(version, dict(stages), 1.0)

    monkeypatch.setattr(builds, "build", fake_build)
    monkeypatch.setattr(map_warmup, "build_version_artefacts",
                        lambda settings, dataset, version, **k:
                        built_for.append((dataset, version)) or {"x": 0.1})
    env = {"CHIPAO_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    result = runner.invoke(aggregate.command, ["--dataset", "demo"], env=env)
    assert result.exit_code == 0, result.output
    assert built_for == [("demo", "r2562-new")] and "map artefacts" in result.output
    result = runner.invoke(aggregate.command, ["--dataset", "demo", "--no-map-artefacts"],
                           env=env)
    assert result.exit_code == 0 and len(built_for) == 1
    stages.clear()  # unchanged: the version and its artefacts exist
    result = runner.invoke(aggregate.command, ["--dataset", "demo"], env=env)
    assert result.exit_code == 0 and len(built_for) == 1
