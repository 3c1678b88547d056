"""Bulk import of agency assistance files: validation, pseudonyms, atomicity, idempotence."""

from __future__ import annotations

import datetime as dt

import openpyxl
import polars as pl
import pytest
from followup_support import Who, scored, write_csv

from service.errors import InvalidInput
from service.followup.households import target_households
from service.followup.imports import import_assistance
from service.followup.store import CaseStore
from service.ingest.pseudonym import household_pseudonym, person_pseudonym

WHO = Who()
TODAY = dt.date(2026, 12, 1)
HEADER = ["รหัสครัวเรือน", "วันที่", "หน่วยงาน", "กิจกรรม", "จำนวนเงิน (บาท)", "หมายเหตุ"]


@pytest.fixture(scope="module")
def targets(make_demo_persons):
    return target_households(scored(make_demo_persons(provinces=["TH75"],
                                                      amphoes=["TH7502"])))


@pytest.fixture
def settings(tmp_path):
    from service.settings import load_settings

    (tmp_path / "var").mkdir()
    return load_settings({"data_dir": str(tmp_path / "var"), "pseudonym_key": "k1"})


@pytest.fixture
def cases(settings, targets):
    store = CaseStore(settings["database_url"])
    store.sync_cases("demo", version_id="v1", round=2561, province="TH75", households=targets)
    return store


def _run(cases, settings, path, **kw):
    kw.setdefault("allowed_province", "TH75")
    return import_assistance(cases, settings, path, dataset="demo", actor=WHO, today=TODAY,
                             **kw)


def _count(cases):
    return cases.assistance_frame("demo").height


def test_bad_row_rejects_the_file_with_row_and_column(cases, settings, targets, tmp_path):
    hh = targets["hh_id"].to_list()
    path = write_csv(tmp_path / "agency.csv", HEADER, [
        [hh[0], "1/10/2569", "พมจ.", "ซ่อมแซมบ้าน", "15,000", "ซ่อมหลังคา"],
        [hh[1], "32/10/2569", "พมจ.", "ซ่อมแซมบ้าน", "abc", ""],
        [hh[2], "2026-10-02", "หน่วยงานลับ", "teleport", "10", "นายสมชาย"],
        ["no-such-household", "2026-10-02", "lao", "goods_aid", "", ""],
    ])
    rep = _run(cases, settings, path)
    assert rep.status == "rejected" and _count(cases) == 0
    where = {(p["row"], p["column"], p["code"]) for p in rep.problems}
    assert where == {(3, "date", "bad_date"), (3, "amount_thb", "bad_amount"),
                     (4, "agency", "unknown_agency"), (4, "action", "unknown_action"),
                     (4, "note", "note_name_like"), (5, "hh_id", "unknown_household")}
    assert all(p["file"] == "agency.csv" and p["reason_th"] and p["reason_en"]
               for p in rep.problems)
    # a refused note is never echoed
    assert "สมชาย" not in str(rep.to_dict())


def test_good_file_imports_once_and_flags_duplicate_help(cases, settings, targets, tmp_path):
    hh = targets["hh_id"].to_list()
    cid = cases.cases_by_hh("demo", [hh[0]])["case_id"][0]
    cases.add_assistance(int(cid), given_on="2026-09-20", agency="lao",
                         action="housing_repair", actor=WHO, amount_thb=20000)
    rows = [[hh[0], "1/10/2569", "พมจ.", "ซ่อมแซมบ้าน", "15,000", "ซ่อมหลังคา"],
            [hh[1], "2026-10-01", "sso", "ss_art40", "", ""],
            [hh[1], "2026-10-03", "lao", "Social security art. 40 enrolment", "0", ""]]
    path = write_csv(tmp_path / "agency.csv", HEADER, rows)
    rep = _run(cases, settings, path)
    assert rep.status == "created", rep.summary()
    assert (rep.n_records, rep.n_accepted, rep.n_flagged) == (3, 3, 2)
    frame = cases.assistance_frame("demo").sort("id")
    assert frame.height == 4
    assert frame["duplicate_of"].to_list() == [None, frame["id"][0], None, frame["id"][2]]
    assert frame["horizon"].to_list()[1:] == ["long", "urgent", "urgent"]
    again = _run(cases, settings, path)
    assert again.status == "existing" and again.import_id == rep.import_id
    assert _count(cases) == 4


def test_repeated_row_within_a_file_is_a_problem(cases, settings, targets, tmp_path):
    hh = targets["hh_id"][0]
    path = write_csv(tmp_path / "a.csv", HEADER, [[hh, "2026-10-01", "lao", "goods_aid", 1, ""],
                                                  [hh, "1/10/2569", "อปท.", "goods_aid", 1, ""]])
    rep = _run(cases, settings, path)
    assert [(p["row"], p["code"], p["value"]) for p in rep.problems] == [
        (3, "duplicate_row", "row 2")]
    rep = _run(cases, settings, path, policy="quarantine")
    assert rep.status == "created" and rep.n_accepted == 1 and _count(cases) == 1


def test_other_province_rows_refuse_the_whole_file(cases, settings, targets, tmp_path):
    hh = targets["hh_id"][0]
    path = write_csv(tmp_path / "a.csv", HEADER, [[hh, "2026-10-01", "lao", "goods_aid", 1, ""]])
    rep = _run(cases, settings, path, allowed_province="TH50", policy="quarantine")
    assert rep.status == "rejected" and rep.problems[0]["code"] == "wrong_province"
    assert _count(cases) == 0


def test_house_numbers_and_national_ids_are_pseudonymised(settings, targets, tmp_path):
    # a survey imported with house numbers has hh_id = HMAC("hh:" + house number)
    house, nid = "75020012345", "1101700203450"
    hh_id = household_pseudonym("k1", house)
    other = household_pseudonym("k1", "75020099999")
    frame = targets.head(2).with_columns(hh_id=pl.Series([hh_id, other]))
    store = CaseStore(settings["database_url"])
    store.sync_cases("demo", version_id="v1", round=2561, province="TH75", households=frame)
    pid = person_pseudonym("k1", nid)

    def person_households(ids):
        assert ids == [pid]  # only pseudonyms reach the lookup
        return pl.DataFrame({"person_id": [pid], "hh_id": [other]})

    path = write_csv(tmp_path / "a.csv",
                     ["รหัสประจำบ้าน", "เลขประจำตัวประชาชน", "ชื่อ", "date", "agency", "action"],
                     [[house, "", "สมศรี", "2026-10-01", "lao", "goods_aid"],
                      ["", nid, "สมชาย", "2026-10-01", "lao", "goods_aid"]])
    rep = _run(store, settings, path, person_households=person_households)
    assert rep.status == "created", rep.summary()
    assert "ชื่อ" in rep.ignored_columns
    assert sorted(store.assistance_frame("demo")["hh_id"]) == sorted([hh_id, other])


def test_xlsx_and_tis620(cases, settings, targets, tmp_path):
    hh = targets["hh_id"][0]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append([hh, dt.datetime(2026, 10, 1), "พมจ.", "ถุงยังชีพ / สิ่งของจำเป็น", 500, ""])
    wb.save(tmp_path / "a.xlsx")
    rep = _run(cases, settings, tmp_path / "a.xlsx")
    assert rep.status == "created", rep.summary()
    path = write_csv(tmp_path / "b.csv", HEADER,
                     [[hh, "2/10/2569", "อปท.", "ถุงยังชีพ / สิ่งของจำเป็น", 300, "ส่งมอบแล้ว"]],
                     encoding="cp874")
    rep = _run(cases, settings, path)
    assert rep.status == "created" and rep.n_flagged == 1, rep.summary()


def test_missing_required_column(cases, settings, tmp_path):
    path = write_csv(tmp_path / "a.csv", ["รหัสครัวเรือน", "วันที่"], [["x", "2026-01-01"]])
    with pytest.raises(InvalidInput, match="row 1.*agency"):
        _run(cases, settings, path)
