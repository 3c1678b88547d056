"""Attacks on writes (issue 16, review findings High 1 and Medium "lost update", "inject
persons into another province"): who may create datasets and rounds, what a provincial
upload may replace, and concurrent uploads to one round."""

from __future__ import annotations

import threading
from pathlib import Path

import polars as pl
import pytest
from ingest_support import good_rows, seed_round, settings_for, store_build, write_csv

from service.errors import Conflict, Forbidden
from service.ingest.run import ingest_files
from service.store import open_store

HEADER = ["person_id", "hh_id", "tambon_code", "age", "sex", "lon", "lat"]
IN_TH100101 = ("100.4913", "13.7500")   # Bangkok, Phra Borom Maha Ratchawang
IN_TH500101 = ("98.98", "18.79")        # Chiang Mai, Si Phum
IN_TH750101 = ("99.995", "13.401")      # Samut Songkhram, Mae Klong


@pytest.fixture
def settings(tmp_path):
    return settings_for(tmp_path)


def rows(prefix: str, tambon: str, point: tuple[str, str] | tuple[()] = (), n: int = 2):
    lon, lat = point or ("", "")
    return [[f"{prefix}{i}", f"{prefix}H{i // 2}", tambon, str(30 + i), "F", lon, lat]
            for i in range(n)]


def csv(tmp_path: Path, name: str, data) -> Path:
    return write_csv(tmp_path / name, data, header=HEADER)


def persons_of(settings, version_id: str) -> dict[str, list[str]]:
    store = open_store(settings)
    vdir = Path(store.version("t", version_id).path) / "persons"
    return {f.stem: sorted(pl.read_parquet(f)["person_id"].to_list())
            for f in sorted(vdir.glob("*.parquet"))}


def national_round(settings, tmp_path) -> str:
    """A national user creates round 2567 with Bangkok and Samut Songkhram."""
    both = rows("BKK", "TH100101", IN_TH100101) + rows("SSK", "TH750101", IN_TH750101)
    report = ingest_files(settings, [csv(tmp_path, "national.csv", both)], dataset="t",
                          round=2567, build=store_build)
    assert report.status == "created"
    return report.version_id


def test_provincial_user_cannot_create_a_dataset_or_a_round(settings, tmp_path):
    path = csv(tmp_path, "p.csv", rows("SSK", "TH750101", IN_TH750101))
    with pytest.raises(Forbidden, match="national users create datasets"):
        ingest_files(settings, [path], dataset="t", round=2567, build=store_build,
                     allowed_province="TH75")
    national_round(settings, tmp_path)
    with pytest.raises(Forbidden, match="national users create rounds"):
        ingest_files(settings, [path], dataset="t", round=2568, build=store_build,
                     allowed_province="TH75")
    assert [v.round for v in open_store(settings).versions("t")] == [2567]


def test_provincial_upload_replaces_only_its_own_partition(settings, tmp_path):
    national_round(settings, tmp_path)
    path = csv(tmp_path, "ssk.csv", rows("NEW", "TH750101", IN_TH750101, n=3))
    report = ingest_files(settings, [path], dataset="t", round=2567, build=store_build,
                          allowed_province="TH75")
    assert report.status == "created" and report.carried_provinces == ["TH10"]
    got = persons_of(settings, report.version_id)
    assert got["TH10"] == ["BKK0", "BKK1"]          # Bangkok untouched
    assert got["TH75"] == ["NEW0", "NEW1", "NEW2"]  # only Samut Songkhram replaced
    assert open_store(settings).current("t").id == report.version_id


def test_points_in_another_province_are_refused_not_counted_there(settings, tmp_path):
    national_round(settings, tmp_path)
    # TH75 records with Chiang Mai points: the point would decide where they are counted
    bad = rows("SSK", "TH750101", IN_TH750101) + rows("INJ", "TH750101", IN_TH500101)
    path = csv(tmp_path, "inject.csv", bad)
    report = ingest_files(settings, [path], dataset="t", round=2567, build=store_build,
                          allowed_province="TH75")
    assert report.status == "rejected"
    assert {(p["row"], p["code"]) for p in report.problems} == {
        (4, "point_outside_province"), (5, "point_outside_province")}
    # quarantine: the valid rows are imported, the injected ones kept out with the reason
    report = ingest_files(settings, [path], dataset="t", round=2567, build=store_build,
                          allowed_province="TH75", policy="quarantine")
    assert report.status == "created" and report.n_quarantined == 2
    got = persons_of(settings, report.version_id)
    assert got["TH75"] == ["SSK0", "SSK1"] and "TH50" not in got


class GatedBuild:
    """store_build that waits for ``release`` before publishing (a slow build)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, settings, **kw):
        self.started.set()
        assert self.release.wait(30)
        return store_build(settings, **kw)


def _in_thread(fn):
    box: dict = {}

    def run():
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    return t, box


def test_concurrent_uploads_of_two_provinces_keep_both(settings, tmp_path):
    national_round(settings, tmp_path)
    gate = GatedBuild()
    ssk = csv(tmp_path, "ssk.csv", rows("SSK-A", "TH750101", IN_TH750101))
    bkk = csv(tmp_path, "bkk.csv", rows("BKK-B", "TH100101", IN_TH100101))
    t1, box1 = _in_thread(lambda: ingest_files(settings, [ssk], dataset="t", round=2567,
                                               build=gate, allowed_province="TH75"))
    assert gate.started.wait(30)  # upload 1 holds the round's lock, building
    t2, box2 = _in_thread(lambda: ingest_files(settings, [bkk], dataset="t", round=2567,
                                               build=store_build, allowed_province="TH10"))
    gate.release.set()
    t1.join(30)
    t2.join(30)
    assert "error" not in box1 and "error" not in box2, (box1, box2)
    last = open_store(settings).current("t").id
    assert last == box2["result"].version_id
    got = persons_of(settings, last)
    # neither upload lost: before the fix the later publish dropped the other's rows
    assert got == {"TH10": ["BKK-B0", "BKK-B1"], "TH75": ["SSK-A0", "SSK-A1"]}


def test_concurrent_uploads_of_one_province_conflict_409(settings, tmp_path):
    national_round(settings, tmp_path)
    gate = GatedBuild()
    first = csv(tmp_path, "a.csv", rows("A", "TH750101", IN_TH750101))
    second = csv(tmp_path, "b.csv", rows("B", "TH750101", IN_TH750101))
    t1, box1 = _in_thread(lambda: ingest_files(settings, [first], dataset="t", round=2567,
                                               build=gate, allowed_province="TH75"))
    assert gate.started.wait(30)
    t2, box2 = _in_thread(lambda: ingest_files(settings, [second], dataset="t", round=2567,
                                               build=store_build, allowed_province="TH75"))
    gate.release.set()
    t1.join(30)
    t2.join(30)
    assert box1["result"].status == "created"
    err = box2.get("error")
    assert isinstance(err, Conflict), box2
    assert "upload again" in str(err) and "นำเข้าใหม่" in str(err)
    got = persons_of(settings, open_store(settings).current("t").id)
    assert got["TH75"] == ["A0", "A1"]


def test_upload_api_provincial_new_round_403_and_conflict_409(app, client, tmp_path,
                                                               monkeypatch):
    import io

    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    import service.pipeline
    from service.api.auth import user_store

    monkeypatch.setattr(service.pipeline, "build_version", store_build)
    users = user_store(app)
    users.create_user("ssk", "correct horse battery", "provincial", "TH75")
    headers = {"Authorization": f"Bearer {users.create_token('ssk')[0]}"}

    def post(round_: str, n: int = 2):
        body = write_csv(tmp_path / "g.csv", good_rows(n)).read_bytes()
        boundary, data = encode_multipart({"round": round_, "file": FileStorage(
            io.BytesIO(body), filename="g.csv")})
        return client.post("/api/v1/datasets/demo/uploads", data=data, headers=headers,
                           content_type=f"multipart/form-data; boundary={boundary}")

    r = post("2567")
    assert r.status_code == 403 and "ชุดข้อมูล" in r.get_json()["detail"]
    seed_round(app.config["CHIPAO"], dataset="demo", round=2567)
    assert post("2568").status_code == 403
    assert post("2567").status_code == 201
    monkeypatch.setattr("service.ingest.run.check_conflict", _raise_conflict)
    r = post("2567", n=4)
    assert r.status_code == 409 and "upload again" in r.get_json()["detail"]


def _raise_conflict(*_a, **_k):
    raise Conflict("another upload changed TH75 ... upload again / นำเข้าใหม่")
