"""Differencing versions (issue 16, High 2 and Medium "rollback ignored"): the public sees one
released version per round; maps, embeds, API and exports follow the catalog; roll-back
works by `chipao datasets use` and by re-uploading the earlier file."""

from __future__ import annotations

import pytest
from api_dataset import build_app, tambons_of
from ingest_support import good_rows, settings_for, store_build, write_csv

from service.ingest.run import ingest_files
from service.store import open_store


def correct_round(settings, rnd: int, seed: int) -> str:
    """Publish a correction of round ``rnd`` (other persons, a new source)."""
    from api_dataset import DATASET, PROVINCES, scored_persons

    from service.analysis.aggregate import admin_names, aggregate
    from service.geo import boundaries

    store = open_store(settings)
    persons = {p: scored_persons(settings, p, seed=seed + k) for k, p in enumerate(PROVINCES)}
    tables = aggregate(list(persons.values()),
                       names=admin_names(boundaries.hierarchy(settings["boundaries_dir"])))
    with store.write_version(DATASET, round=rnd, source_sha256=f"corr{seed}") as w:
        for p, frame in persons.items():
            frame.write_parquet(w.persons_path(p))
        for level, table in tables.items():
            table.write_parquet(w.areas_path(level))
        return w.publish(n_persons=1, n_households=1, meta={"levels": list(tables)}).id


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    # round 2561, round 2562, then a correction of 2561 (it supersedes the first 2561)
    tmp = tmp_path_factory.mktemp("versions")
    app, tokens, (old, latest) = build_app(tmp)
    corrected = correct_round(app.config["CHIPAO"], 2561, seed=77)
    return app, tokens, (old, corrected, latest)


def _tambon(app) -> str:
    return tambons_of(app.config["CHIPAO"], "TH50")[0][0]


def test_public_cannot_address_a_superseded_version(served):
    app, tokens, (old, corrected, latest) = served
    client = app.test_client()
    code = _tambon(app)
    assert client.get(f"/api/v1/areas/tambon/{code}?version={old}").status_code == 404
    assert client.get(f"/api/v1/areas/tambon/{code}?version={corrected}").status_code == 200
    # provincial users of the province see it as the public does: not at all
    cm = {"Authorization": f"Bearer {tokens['cm']}"}
    assert client.get(f"/api/v1/areas/tambon/{code}?version={old}",
                      headers=cm).status_code == 404
    nat = {"Authorization": f"Bearer {tokens['nat']}"}
    assert client.get(f"/api/v1/areas/tambon/{code}?version={old}",
                      headers=nat).status_code == 200


def test_kpi_series_and_version_lists_hold_one_version_per_round(served):
    app, _tokens, (old, corrected, latest) = served
    client = app.test_client()
    code = _tambon(app)
    series = client.get(f"/api/v1/areas/tambon/{code}/kpi").get_json()["series"]
    assert [(p["round"], p["version"]) for p in series] == [(2561, corrected), (2562, latest)]
    listed = client.get("/api/v1/datasets/demo/versions").get_json()["items"]
    assert [v["id"] for v in listed] == [latest, corrected]
    assert old not in client.get("/api/v1/datasets/demo").get_data(as_text=True)


def test_maps_rounds_and_change_compare_released_versions_only(served):
    app, _tokens, (old, corrected, latest) = served
    client = app.test_client()
    assert client.get(f"/maps/values/province.json?round={old}").status_code == 404
    body = client.get("/maps/values/province.json?change=1").get_json()
    assert body["version"] == latest
    page = client.get("/maps/").get_data(as_text=True)
    assert old not in page and corrected in page


def test_rollback_with_datasets_use_moves_maps_api_and_embeds(tmp_path):
    from click.testing import CliRunner

    from service.commands.datasets import command

    app, _tokens, (first, second) = build_app(tmp_path)
    client = app.test_client()
    assert client.get("/maps/values/province.json").get_json()["version"] == second
    env = {"CHIPAO_DATA_DIR": app.config["CHIPAO"]["data_dir"]}
    result = CliRunner().invoke(command, ["use", "--dataset", "demo", first], env=env)
    assert result.exit_code == 0, result.output
    fresh = app.test_client()
    assert fresh.get("/maps/values/province.json").get_json()["version"] == first
    assert fresh.get("/embed/values/province.json").get_json()["version"] == first
    code = _tambon(app)
    assert fresh.get(f"/api/v1/areas/tambon/{code}").get_json()["version"] == first


def test_reuploading_the_earlier_file_makes_it_current_again(tmp_path):
    settings = settings_for(tmp_path)
    good = write_csv(tmp_path / "good.csv", good_rows(4))
    bad = write_csv(tmp_path / "bad.csv", good_rows(6))
    v1 = ingest_files(settings, [good], dataset="t", round=2567, build=store_build)
    v2 = ingest_files(settings, [bad], dataset="t", round=2567, build=store_build)
    store = open_store(settings)
    assert store.current("t").id == v2.version_id
    again = ingest_files(settings, [good], dataset="t", round=2567, build=store_build)
    assert again.status == "existing" and again.version_id == v1.version_id
    assert store.current("t").id == v1.version_id
    assert [v.id for v in store.versions("t")] == [v1.version_id]
    assert len(store.versions("t", superseded=True)) == 2


def test_reupload_reapplies_the_file_when_other_provinces_changed(tmp_path):
    settings = settings_for(tmp_path)
    header = ["person_id", "hh_id", "tambon_code", "age", "sex"]
    ssk1 = write_csv(tmp_path / "s1.csv", [["S1", "SH1", "TH750101", "40", "F"]], header=header)
    ssk2 = write_csv(tmp_path / "s2.csv", [["S2", "SH2", "TH750101", "41", "F"]], header=header)
    bkk = write_csv(tmp_path / "b.csv", [["B1", "BH1", "TH100101", "30", "M"]], header=header)
    ingest_files(settings, [ssk1], dataset="t", round=2567, build=store_build)
    ingest_files(settings, [bkk], dataset="t", round=2567, build=store_build)
    ingest_files(settings, [ssk2], dataset="t", round=2567, build=store_build)
    # Samut Songkhram re-uploads its first file: Bangkok (added since) must stay
    again = ingest_files(settings, [ssk1], dataset="t", round=2567, build=store_build)
    assert again.status == "created"
    store = open_store(settings)
    from pathlib import Path

    import polars as pl

    vdir = Path(store.current("t").path) / "persons"
    got = {f.stem: pl.read_parquet(f)["person_id"].to_list() for f in vdir.glob("*.parquet")}
    assert got == {"TH10": ["B1"], "TH75": ["S1"]}
