"""ID-like values in free-text columns (issue 16, Build item 4; Lower "national IDs typed with
dots or a prefix, and names in hh_id, are stored in clear").

A household id (``hh_id``) or person id (``person_id``) is a pseudonym or a code of the
source system. When it holds a checksum-valid national ID (however typed: dots, dashes,
spaces, a label, Thai digits) or a person's name, the row is refused with an error naming
the file, row and column in Thai and English, the value masked; it is never stored. The
follow-up notes (service/followup/notes.py) refuse the same IDs, through the shared rule
(service.ingest.free_text)."""

from __future__ import annotations

import polars as pl
import pytest
from ingest_support import KEY, nid, settings_for, write_csv

from service.ingest.free_text import FREE_TEXT_REASONS, free_text_problem, free_text_problem_expr
from service.ingest.pseudonym import person_pseudonym
from service.ingest.run import ingest_files

THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")
ID = nid(4242)


def _typed(clean: str) -> list[str]:
    """One valid national ID typed in every way the review and officers do."""
    c = clean
    return [c, f"{c[0]}.{c[1:5]}.{c[5:10]}.{c[10:12]}.{c[12]}",
            f"{c[0]}-{c[1:5]}-{c[5:10]}-{c[10:12]}-{c[12]}",
            f"{c[0]} {c[1:5]} {c[5:10]} {c[10:12]} {c[12]}",
            f"{c[0]} - {c[1:5]} - {c[5:10]} - {c[10:12]} - {c[12]}",
            f"ID: {c}", f"บัตร {c[:6]} {c[6:]}", c.translate(THAI_DIGITS),
            f"H-{c}"]


NAMES = ["นายสมชาย ใจดี", "สมชาย ใจดี", "นางสาวมาลี", "ด.ช.สมศักดิ์ รักไทย", "somchai jaidee",
         "Mr Somchai", "Mrs. Malee Jaidee", "บ้านนายสมชาย"]
ALLOWED = ["H1", "HH-000123", "7501000001", "75010000011", "TH75010101-003",
           "บ้านเลขที่ 12/3 หมู่ 4", nid(7)[:12], "hh 42"]


@pytest.fixture
def settings(tmp_path):
    return settings_for(tmp_path)


class _Capture:
    def __init__(self) -> None:
        self.frames: list[pl.DataFrame] = []

    def __call__(self, settings, *, dataset, round, persons_dir, **kw):
        from pathlib import Path

        for f in sorted(Path(persons_dir, "persons").glob("*.parquet")):
            self.frames.append(pl.read_parquet(f))

        class _V:
            id = "v1"

        return _V()


def _ingest(settings, tmp_path, rows, header, **kw):
    cap = _Capture()
    report = ingest_files(settings, [write_csv(tmp_path / "f.csv", rows, header=header)],
                          dataset="t", round=2567, build=cap, **kw)
    return report, cap


@pytest.mark.parametrize("value", _typed(ID))
def test_rule_finds_a_national_id_however_typed(value):
    assert free_text_problem(value) == "id_in_free_text"
    frame = pl.DataFrame({"v": [value]})
    assert frame.select(free_text_problem_expr("v")).item() == "id_in_free_text"


@pytest.mark.parametrize("value", NAMES)
def test_rule_finds_names(value):
    assert free_text_problem(value) == "name_in_free_text"
    frame = pl.DataFrame({"v": [value]})
    assert frame.select(free_text_problem_expr("v")).item() == "name_in_free_text"


@pytest.mark.parametrize("value", ALLOWED)
def test_rule_lets_codes_and_house_numbers_through(value):
    assert free_text_problem(value) is None
    frame = pl.DataFrame({"v": [value]})
    assert frame.select(free_text_problem_expr("v")).item() is None


def test_an_id_with_a_wrong_check_digit_is_not_taken_for_one():
    wrong = ID[:12] + str((int(ID[12]) + 1) % 10)
    assert free_text_problem(wrong) is None


def test_id_and_names_in_hh_id_are_refused_with_file_row_column(settings, tmp_path):
    header = ["person_id", "hh_id", "tambon_code", "age", "sex"]
    hostile = _typed(ID) + NAMES
    rows = [[f"P{i}", v, "TH750101", "30", "F"] for i, v in enumerate(hostile)]
    rows.append(["P-ok", "H1", "TH750101", "40", "M"])
    report, cap = _ingest(settings, tmp_path, rows, header, policy="quarantine")
    problems = {(p["row"], p["column"], p["code"]) for p in report.problems}
    expected = {(i + 2, "hh_id", "id_in_free_text") for i in range(len(_typed(ID)))}
    expected |= {(i + 2 + len(_typed(ID)), "hh_id", "name_in_free_text")
                 for i in range(len(NAMES))}
    assert problems == expected
    for p in report.problems:
        assert p["file"] == "f.csv"
        th, en = FREE_TEXT_REASONS[p["code"]]
        assert p["reason_th"] == th and p["reason_en"] == en
        assert p["value"] in (None, "***")  # never echoed
    assert report.n_accepted == 1
    stored = pl.concat(cap.frames)
    assert stored["hh_id"].to_list() == ["H1"]
    text = report.summary() + str(report.to_dict())
    for raw in (ID, "สมชาย", "somchai", "Somchai", ID[:6]):
        assert raw not in text


def test_a_name_in_person_id_is_refused(settings, tmp_path):
    header = ["person_id", "hh_id", "tambon_code", "age", "sex"]
    rows = [["สมชาย ใจดี", "H1", "TH750101", "30", "M"], ["P2", "H1", "TH750101", "31", "F"]]
    report, _ = _ingest(settings, tmp_path, rows, header, policy="quarantine")
    assert {(p["row"], p["column"], p["code"]) for p in report.problems} == {
        (2, "person_id", "name_in_free_text")}


def test_the_whole_upload_is_refused_under_the_reject_policy(settings, tmp_path):
    header = ["person_id", "hh_id", "tambon_code", "age", "sex"]
    rows = [["P1", f"ID: {ID}", "TH750101", "30", "M"], ["P2", "H1", "TH750101", "31", "F"]]
    report, cap = _ingest(settings, tmp_path, rows, header)
    assert report.status == "rejected" and not cap.frames


@pytest.mark.parametrize("typed", [ID.translate(THAI_DIGITS),
                                   f"{ID[0]}.{ID[1:5]}.{ID[5:10]}.{ID[10:12]}.{ID[12]}"])
def test_national_ids_are_normalised_before_the_hmac(settings, tmp_path, typed):
    """Thai digits, dots: the same pseudonym as the plain 13 digits, in the national ID
    column and in person_id."""
    for header in (["เลขประจำตัวประชาชน", "hh_id", "tambon_code", "age", "sex"],
                   ["person_id", "hh_id", "tambon_code", "age", "sex"]):
        report, cap = _ingest(settings, tmp_path, [[typed, "H1", "TH750101", "30", "M"]],
                              header)
        assert report.status == "created", report.summary()
        assert pl.concat(cap.frames)["person_id"].to_list() == [person_pseudonym(KEY, ID)]


@pytest.mark.parametrize("value", _typed(ID) + ["นายสมชาย ใจดี", "Mr Somchai"])
def test_followup_notes_refuse_what_the_shared_rule_refuses(value):
    """The assistance log's note (FU's service/followup/notes.py) uses the shared rule:
    every national ID the ingest refuses is refused in a note too."""
    from service.followup.notes import note_problem, note_problem_expr

    assert note_problem(f"ช่วยซ่อมบ้าน {value}") is not None
    frame = pl.DataFrame({"note": [f"ช่วยซ่อมบ้าน {value}"]})
    assert frame.select(note_problem_expr("note")).item() is not None
