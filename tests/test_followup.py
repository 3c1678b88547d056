"""Follow-up core: target households, cases, workflow, plan, assistance, missed, progress."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa
from followup_support import Who, scored
from hypothesis import given
from hypothesis import strategies as st

from service.errors import Conflict, InvalidInput
from service.followup import models
from service.followup.catalogue import load_actions, load_workflow
from service.followup.households import household_frame, target_households
from service.followup.notes import note_problem, note_problem_expr
from service.followup.store import CaseStore, Filters, parse_date, parse_dates

WHO = Who()
pytestmark = pytest.mark.both_databases


@pytest.fixture(scope="module")
def persons(make_demo_persons):
    return scored(make_demo_persons(provinces=["TH75"], amphoes=["TH7502"]))


@pytest.fixture(scope="module")
def targets(persons):
    return target_households(persons)


@pytest.fixture
def cases(tmp_path, targets, database_url):
    store = CaseStore(database_url or f"sqlite:///{tmp_path / 'chipao.db'}")
    store.sync_cases("demo", version_id="v1", round=2561, province="TH75", households=targets)
    return store


def _first_case(store: CaseStore) -> dict:
    rows, _ = store.list_cases("demo", 2561, provinces={"TH75"}, limit=1)
    return rows[0]


# -- catalogue ------------------------------------------------------------------------------
def test_every_status_has_a_path_and_actions_resolve_by_label():
    wf = load_workflow()
    assert wf.initial == "not_visited"
    for s in wf.statuses:
        assert s in wf.transitions
    acts = load_actions()
    assert acts.resolve("action", "สมัครประกันสังคมมาตรา 40") == "ss_art40"
    assert acts.resolve("action", "housing repair") == "housing_repair"
    assert acts.resolve("agency", "พมจ.") == "pmj"
    assert acts.resolve("agency", "nobody") is None
    assert {a.id for a in acts.for_indicators(["ind8"])} >= {"housing_repair"}


# -- target households --------------------------------------------------------------------------
def test_target_households_follow_the_case_rules(persons, targets):
    hh = persons.group_by("hh_id").agg(
        pl.col("hh_mpi_poor").first(), pl.col("tpmap_target_poor").any(),
        *[(pl.col(f"elig_{p}") & ~pl.col(f"cov_{p}")).any().alias(p)
          for p in ("elderly_allowance", "disability_allowance", "child_grant")],
        (pl.col("dep_ind8").fill_null(0) > 0).any().alias("ind8"))
    want = hh.filter(pl.col("hh_mpi_poor") | pl.col("tpmap_target_poor")
                     | pl.col("elderly_allowance") | pl.col("disability_allowance")
                     | pl.col("child_grant"))
    assert sorted(targets["hh_id"].to_list()) == sorted(want["hh_id"].to_list())
    assert 0 < targets.height < hh.height
    # failing indicators are those any member fails
    j = targets.join(want.select("hh_id", "ind8"), on="hh_id")
    assert (j["failing"].str.contains(r"(^|,)ind8(,|$)") == j["ind8"]).all()


def test_household_frame_counts_members(persons):
    frame = household_frame(persons)
    assert frame["n_members"].sum() == persons.height
    assert frame["hh_id"].n_unique() == frame.height


# -- cases and workflow ----------------------------------------------------------------------
def test_sync_is_idempotent(cases, targets):
    _, total = cases.list_cases("demo", 2561, provinces={"TH75"})
    assert total == targets.height
    assert cases.sync_cases("demo", version_id="v1", round=2561, province="TH75",
                            households=targets) == 0
    assert cases.synced("demo", "v1", "TH75")
    _, total = cases.list_cases("demo", 2561, provinces={"TH75"})
    assert total == targets.height


def test_other_province_sees_nothing(cases):
    rows, total = cases.list_cases("demo", 2561, provinces={"TH50"})
    assert rows == [] and total == 0
    rows, total = cases.list_cases("demo", 2561, provinces=set())
    assert total == 0


def test_workflow_walk_and_append_only_history(cases):
    c = _first_case(cases)
    cid = c["id"]
    with pytest.raises(InvalidInput, match="cannot move"):
        cases.change_status(cid, "resolved", actor=WHO)
    for new in ("visited", "plan_agreed", "in_progress", "helped", "resolved"):
        cases.change_status(cid, new, actor=WHO, note="ok")
    case = cases.case(cid)
    assert case["status"] == "resolved"
    steps = [(h["from_status"], h["to_status"], h["username"]) for h in case["history"]]
    assert steps[0] == ("not_visited", "visited", "officer1")
    assert steps[-1] == ("helped", "resolved", "officer1")
    with cases.engine.begin() as conn, pytest.raises(sa.exc.DatabaseError):
        conn.execute(models.history.update().values(note="rewritten"))


def test_stale_status_is_refused(cases):
    cid = _first_case(cases)["id"]
    cases.change_status(cid, "visited", actor=WHO)
    with pytest.raises(Conflict):
        cases.change_status(cid, "plan_agreed", actor=WHO, expected="not_visited")


def test_notes_with_personal_data_are_refused(cases):
    cid = _first_case(cases)["id"]
    with pytest.raises(InvalidInput, match="ID-like"):
        cases.change_status(cid, "visited", actor=WHO, note="โทร 0812345678")
    with pytest.raises(InvalidInput, match="names a person"):
        cases.change_status(cid, "visited", actor=WHO, note="พบนายสมชาย")
    assert cases.case(cid)["status"] == "not_visited"


# -- plan -------------------------------------------------------------------------------------------
def test_plan_prefilled_from_failing_indicators(cases):
    rows, _ = cases.list_cases("demo", 2561, provinces={"TH75"}, limit=500)
    c = next(r for r in rows if "ind8" in r["failing_list"])
    suggested = {s["action"].id for s in cases.suggested_plan(c)}
    assert "housing_repair" in suggested
    item = cases.add_plan_item(c["id"], action="ซ่อมแซมบ้าน", agency="อปท.", actor=WHO,
                               due_date="1/3/2570", indicator="ind8")
    plan = cases.case(c["id"])["plan"]
    assert plan[0]["id"] == item and plan[0]["horizon"] == "long"
    assert plan[0]["due_date"] == dt.date(2027, 3, 1)
    with pytest.raises(InvalidInput, match="unknown action"):
        cases.add_plan_item(c["id"], action="teleport", agency="lao", actor=WHO)


def test_overdue_cases(cases):
    cid = _first_case(cases)["id"]
    cases.add_plan_item(cid, action="health_visit", agency="health", actor=WHO,
                        due_date="2026-01-01")
    today = dt.date(2026, 6, 1)
    rows, total = cases.list_cases("demo", 2561, provinces={"TH75"},
                                   filters=Filters(overdue=True), today=today)
    assert total == 1 and rows[0]["id"] == cid and rows[0]["overdue"]
    cases.add_assistance(cid, given_on="2026-02-01", agency="health", action="health_visit",
                         actor=WHO)
    _, total = cases.list_cases("demo", 2561, provinces={"TH75"},
                                filters=Filters(overdue=True), today=today)
    assert total == 0


# -- assistance ----------------------------------------------------------------------------------
def test_duplicate_help_is_flagged_not_merged(cases):
    cid = _first_case(cases)["id"]
    a = cases.add_assistance(cid, given_on="2026-05-01", agency="lao",
                             action="housing_repair", actor=WHO, amount_thb="20,000")
    b = cases.add_assistance(cid, given_on="2026-06-15", agency="pmj",
                             action="housing_repair", actor=WHO, amount_thb=15000)
    c = cases.add_assistance(cid, given_on="2026-06-20", agency="pmj",
                             action="housing_repair", actor=WHO, amount_thb=100)
    d = cases.add_assistance(cid, given_on="2027-06-20", agency="lao",
                             action="housing_repair", actor=WHO)
    assert a["duplicate_of"] is None
    assert b["duplicate_of"] == a["id"]          # another agency within 90 days
    assert c["duplicate_of"] == a["id"]          # pmj again: still lao's within the window
    assert d["duplicate_of"] is None             # a year later
    help_ = cases.case(cid)["assistance"]
    assert len(help_) == 4 and sum(h["amount_thb"] for h in help_) == 35100


def test_same_batch_duplicates_point_at_real_ids(cases):
    cid = _first_case(cases)["id"]
    c = cases.case(cid)
    frame = pl.DataFrame({
        "case_id": [cid, cid], "hh_id": [c["hh_id"]] * 2, "province_code": ["TH75"] * 2,
        "amphoe_code": [c["amphoe_code"]] * 2, "tambon_code": [c["tambon_code"]] * 2,
        "given_on": [dt.date(2026, 1, 1), dt.date(2026, 1, 5)], "agency": ["sso", "lao"],
        "action": ["ss_art40"] * 2, "horizon": ["urgent"] * 2, "amount_thb": [0.0, 0.0],
        "note": ["", ""], "source_row": [2, 3]})
    ids = cases.insert_assistance("demo", frame, actor=WHO)
    assert ids["duplicate_of"].to_list() == [None, ids["id"][0]]
    stored = {h["id"]: h["duplicate_of"] for h in cases.case(cid)["assistance"]}
    assert stored[ids["id"][1]] == ids["id"][0]


def test_bad_amount_and_date(cases):
    cid = _first_case(cases)["id"]
    with pytest.raises(InvalidInput, match="amount"):
        cases.add_assistance(cid, given_on="2026-05-01", agency="lao", action="goods_aid",
                             actor=WHO, amount_thb="-5")
    with pytest.raises(InvalidInput, match="invalid date"):
        cases.add_assistance(cid, given_on="31/02/2569", agency="lao", action="goods_aid",
                             actor=WHO)


def test_dates_buddhist_era_iso_and_excel():
    got = parse_dates(pl.Series(["2026-12-01", "1/12/2569", "01.12.2026", "46357", "x",
                                 "31/04/2569", None]))
    d = dt.date(2026, 12, 1)
    assert got.to_list()[:4] == [d, d, d, dt.date(2026, 12, 1)]
    assert got.to_list()[4:] == [None, None, None]
    assert parse_date("1/12/2569", column="x") == d


# -- missed households and progress ------------------------------------------------------------
def test_missed_household_is_a_case_and_is_matched_next_round(cases, targets):
    tambon = targets["tambon_code"][0]
    known_hh = targets["hh_id"][0]
    with pytest.raises(Conflict):
        cases.register_missed("demo", 2561, village_id=None, tambon_code=tambon, n_members=3,
                              reason="not_surveyed", actor=WHO, house_key=known_hh)
    cid = cases.register_missed("demo", 2561, village_id=None, tambon_code=tambon,
                                n_members=4, n_children=2, reason="ครัวเรือนใหม่ (แยกครัวเรือน / ย้ายเข้า)",
                                actor=WHO, house_key="house-key-1")
    case = cases.case(cid)
    assert case["source"] == "missed" and case["household_type"] == "child"
    rows, total = cases.list_cases("demo", 2561, provinces={"TH75"},
                                   filters=Filters(source="missed"))
    assert total == 1 and rows[0]["id"] == cid
    # the next round surveys it (not a target any more): the intake row is matched
    nxt = targets.head(3)
    surveyed = pl.concat([targets["hh_id"], pl.Series(["house-key-1"])])
    cases.sync_cases("demo", version_id="v2", round=2562, province="TH75", households=nxt,
                     surveyed=surveyed)
    missed = cases.missed_rows("demo", provinces={"TH75"})
    assert missed["matched_round"].tolist() == [2562]


def test_progress_counts(cases, targets):
    rows, _ = cases.list_cases("demo", 2561, provinces={"TH75"}, limit=3)
    a, b, c = (r["id"] for r in rows)
    cases.change_status(a, "visited", actor=WHO)
    cases.change_status(b, "visited", actor=WHO)
    cases.change_status(b, "plan_agreed", actor=WHO)
    cases.add_assistance(b, given_on="2026-05-01", agency="lao", action="goods_aid",
                         actor=WHO, amount_thb=500)
    cases.change_status(c, "refused", actor=WHO)
    prog = cases.progress("demo", 2561, level="province", provinces={"TH75"})
    row = prog.iloc[0]
    assert row["code"] == "TH75" and row["n_cases"] == targets.height
    assert (row["n_visited"], row["n_with_plan"], row["n_helped"]) == (3, 1, 1)
    assert (row["n_closed"], row["n_resolved"], row["n_assist"]) == (1, 0, 1)
    assert row["assist_thb"] == 500
    by_amphoe = cases.progress("demo", 2561, level="amphoe", provinces={"TH75"})
    assert by_amphoe["n_cases"].sum() == targets.height
    assert cases.progress("demo", 2561, level="amphoe", provinces={"TH10"}).empty
    agencies = cases.assistance_by("demo", by=["agency"], provinces={"TH75"})
    assert agencies.to_dict("records") == [{"agency": "lao", "n_records": 1, "n_households": 1,
                                           "amount_thb": 500.0, "n_flagged": 0}]


def test_generation_changes_with_every_progress_change(cases):
    """The key of cached public progress (maps): a status change, a plan item added or
    cancelled, help recorded and a new case each give a new stamp; reading does not."""
    rows, _ = cases.list_cases("demo", 2561, provinces={"TH75"}, limit=1)
    case = rows[0]["id"]
    stamps = [cases.generation("demo")]
    cases.progress("demo", 2561, level="province", provinces=None)
    assert cases.generation("demo") == stamps[0]
    cases.change_status(case, "visited", actor=WHO)
    stamps.append(cases.generation("demo"))
    item = cases.add_plan_item(case, action="goods_aid", agency="lao", actor=WHO)
    stamps.append(cases.generation("demo"))
    cases.cancel_plan_item(case, item)
    stamps.append(cases.generation("demo"))
    cases.add_assistance(case, given_on="2026-05-01", agency="lao", action="goods_aid",
                         actor=WHO)
    stamps.append(cases.generation("demo"))
    cases.register_missed("demo", 2561, village_id=None, tambon_code=rows[0]["tambon_code"],
                          n_members=2, reason="new_household", actor=WHO)
    stamps.append(cases.generation("demo"))
    assert len(set(stamps)) == len(stamps), stamps


# -- notes: one rule, two implementations -------------------------------------------------------
@given(st.lists(st.text(alphabet=st.sampled_from(list("นายงสาวกด.ช ญ0123456789 -Mrs@ab.ภพ")),
                        max_size=30), min_size=1, max_size=20))
def test_note_rule_python_equals_polars(texts):
    frame = pl.DataFrame({"n": texts}).with_columns(p=note_problem_expr("n"))
    assert frame["p"].to_list() == [note_problem(t) for t in texts]


@pytest.mark.parametrize("text,code", [
    ("ซ่อมหลังคา", None), ("นายกอบต.มาเยี่ยม", None), ("นายอำเภอเยี่ยมบ้าน", None),
    ("ให้เงิน 3,000 บาท", None), ("นางสาวสมศรี", "note_name_like"), ("Mr. Smith", "note_name_like"),
    ("1-1017-00123-45-6", "note_id_like"), ("081 234 5678", "note_id_like"),
    ("x@y.org", "note_contact"), ("ก" * 501, "note_too_long"),
])
def test_note_examples(text, code):
    assert note_problem(text) == code


def test_impossible_ids_are_not_found(cases):
    from service.errors import NotFound

    for bad in (0, -1, 2**63, "x"):
        with pytest.raises(NotFound):
            cases.case(bad)
        with pytest.raises(NotFound):
            cases.change_status(bad, "visited", actor=WHO)
