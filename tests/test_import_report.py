"""One report base (service.ingest.report.ImportReport) for survey imports and agency
assistance imports; their dictionaries and Thai/English summaries are as before the merge."""

from __future__ import annotations

from collections import Counter

from service.followup.imports import AssistImport
from service.ingest.report import ImportReport, counted
from service.ingest.run import IngestReport


def _survey() -> IngestReport:
    r = IngestReport("demo", 2567, "quarantine", source_sha256="ab", status="created",
                     n_records=1200, n_accepted=1100, n_quarantined=100, version_id="v1")
    r.problem_counts = Counter({("age", "bad_age"): 3})
    r.problems = [{"file": "a.csv", "row": 12, "column": "age", "reason_en": "bad",
                   "value": "x"}]
    r.seconds = 1.234
    return r


def test_both_reports_share_the_base():
    assert issubclass(IngestReport, ImportReport) and issubclass(AssistImport, ImportReport)
    # positional fields of each report still come first
    assert IngestReport("d", 2567, "reject").policy == "reject"
    assert AssistImport("d", "f.csv", "reject").file == "f.csv"


def test_survey_report_dictionary_and_summary():
    r = _survey()
    d = r.to_dict()
    assert list(d) == ["dataset", "round", "policy", "status", "source_sha256", "version",
                       "files", "records", "accepted", "quarantined", "empty_rows_skipped",
                       "problem_counts", "problems", "problems_listed", "problems_total",
                       "notice_counts", "notices", "report_file", "quarantine_files",
                       "carried_provinces", "seconds"]
    assert d["problem_counts"] == [{"column": "age", "code": "bad_age", "count": 3,
                                    "reason_th": "อายุเป็นไปไม่ได้ (ต้องเป็นจำนวนเต็ม 0-120)",
                                    "reason_en": "impossible age (must be a whole number 0-120)"}]
    assert (d["problems_total"], d["seconds"]) == (3, 1.23)
    assert r.summary().splitlines()[:2] == [
        "นำเข้าสำเร็จ สร้างรุ่นข้อมูลใหม่ / imported: new version (v1)",
        "  แถว/records 1,200 · รับ/accepted 1,100 · กักไว้/quarantined 100 · ปัญหา/problems 3"]


def test_assistance_report_dictionary_and_summary():
    a = AssistImport("demo", "x.csv", "reject", status="rejected", n_records=5, n_flagged=1)
    a.problem_counts = Counter({("date", "bad_date"): 2})
    a.problems = [{"file": "x.csv", "row": 3, "column": "date", "reason_th": "ท",
                   "reason_en": "e", "value": "v"}]
    d = a.to_dict()
    assert list(d) == ["dataset", "file", "policy", "sha256", "status", "import_id", "records",
                       "accepted", "possible_duplicates", "ignored_columns", "problem_counts",
                       "problems", "problems_total", "seconds"]
    assert d["problem_counts"][0]["reason_en"] == "invalid date (use 2026-12-01 or 1/12/2569)"
    assert a.summary() == (
        "ปฏิเสธการนำเข้า ไม่มีการบันทึกใด ๆ / import rejected: nothing was recorded\n"
        "  แถว/records 5 · รับ/accepted 0 · อาจซ้ำซ้อน/possible duplicates 1 · ปัญหา/problems 2\n"
        "  x.csv แถว/row 3 คอลัมน์/column date: ท / e (v)")


def test_counted_sorts_by_column_and_code():
    rows = counted(Counter({("b", "x"): 1, ("a", "y"): 2}), {"x": ("ก", "X"), "y": ("ข", "Y")})
    assert [(r["column"], r["count"], r["reason_en"]) for r in rows] == [("a", 2, "Y"),
                                                                        ("b", 1, "X")]


def test_rows_of_another_province_make_either_report_forbidden():
    for report in (IngestReport("d", 2567, "reject"), AssistImport("d", "f.csv", "reject")):
        report.problem_counts = Counter({("age", "bad_age"): 1})
        assert not report.forbidden
        report.problem_counts[("province_code", "wrong_province")] += 1
        assert report.forbidden
