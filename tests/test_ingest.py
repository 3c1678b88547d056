"""Ingest: encodings, formats, schema aliases, every validation rule, policies, pseudonyms."""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
import pytest
from ingest_support import (
    HEADER_TH,
    KEY,
    good_rows,
    nid,
    seed_round,
    settings_for,
    write_csv,
    write_parquet,
    write_xlsx,
)

from service.errors import InvalidInput, UnsupportedMedia
from service.ingest.pseudonym import (
    Pseudonymiser,
    is_valid_national_id,
    national_id_check_digit,
    person_pseudonym,
)
from service.ingest.run import ingest_files
from service.ingest.schema import PERSON_SCHEMA, canonical_name


class Capture:
    """A build_version stand-in that keeps the canonical persons handed to it."""

    def __init__(self) -> None:
        self.frames: dict[str, pl.DataFrame] = {}
        self.calls = 0

    def __call__(self, settings, *, dataset, round, persons_dir, source_sha256, progress=False,
                 **_build_options):
        self.calls += 1
        for f in sorted(Path(persons_dir, "persons").glob("*.parquet")):
            self.frames[f.stem] = pl.read_parquet(f)
            self.raw_bytes = f.read_bytes()

        class _V:
            id = f"v{self.calls}"

        return _V()

    @property
    def persons(self) -> pl.DataFrame:
        return pl.concat(list(self.frames.values()))


@pytest.fixture
def settings(tmp_path):
    return settings_for(tmp_path)


def run(settings, files, **kw):
    cap = Capture()
    kw.setdefault("dataset", "t")
    kw.setdefault("round", 2567)
    report = ingest_files(settings, [Path(f) for f in files], build=cap, **kw)
    return report, cap


# ------------------------------------------------------------------------------ formats


@pytest.mark.parametrize("fmt", ["utf-8", "utf-8-sig", "cp874", "xlsx", "parquet"])
def test_every_encoding_and_format_gives_the_same_persons(settings, tmp_path, fmt):
    rows = good_rows(6)
    path = tmp_path / f"in.{fmt}"
    if fmt == "xlsx":
        write_xlsx(path, rows)
    elif fmt == "parquet":
        write_parquet(path, rows)
    else:
        write_csv(path, rows, encoding=fmt)
    report, cap = run(settings, [path])
    assert report.status == "created", report.summary()
    assert report.n_accepted == 6 and report.n_problems == 0
    expected_encoding = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "cp874": "cp874"}
    assert report.files[0]["encoding"] == expected_encoding.get(fmt)
    got = cap.persons
    assert got.schema == pl.Schema(PERSON_SCHEMA)
    assert got["person_id"].to_list() == [person_pseudonym(KEY, nid(i + 1)) for i in range(6)]
    assert got["village_id"].unique().to_list() == ["TH75010103"]
    assert got["sex"].to_list() == ["F", "M"] * 3
    assert got["ind7"].to_list() == [0, 1] * 3
    assert got["welfare_card"].to_list() == [True, False, False, True, False, False]
    assert got["income_per_person_thb"].to_list() == [30000 + i * 1000 for i in range(6)]
    assert got["age"].dtype == pl.Int16 and got["age"].to_list() == list(range(20, 26))
    # two persons per household, households distinct
    assert got["hh_id"].n_unique() == 3


def test_english_headers_and_dopa_codes(settings, tmp_path):
    header = ["National ID", "First Name", "Last Name", "house_code", "Tambon Code",
              "village no", "Latitude", "Longitude", "Age", "Gender", "welfare card holder",
              "old age allowance", "BMN 7", "indicator_22", "Income per person"]
    path = write_csv(tmp_path / "en.csv", good_rows(2), header=header)
    report, cap = run(settings, [path])
    assert report.status == "created" and cap.persons.height == 2
    assert canonical_name("  Tambon_Code ") == "tambon_code"
    assert canonical_name("จปฐ. 22") == "ind22" and canonical_name("ind 3") is None


def test_broken_utf8_names_the_row(settings, tmp_path):
    data = write_csv(tmp_path / "x.csv", good_rows(5)).read_bytes()
    lines = data.split(b"\r\n")
    lines[4] = lines[4].replace("ใจดี".encode(), "ใจดี".encode()[:-1])  # cut a Thai letter
    (tmp_path / "bad.csv").write_bytes(b"\r\n".join(lines))
    with pytest.raises(InvalidInput, match=r"row 5.*neither valid UTF-8") as exc:
        run(settings, [tmp_path / "bad.csv"])
    assert exc.value.row == 5


def test_binary_garbage_is_refused_quickly(settings, tmp_path):
    import os
    import time

    (tmp_path / "junk.csv").write_bytes(os.urandom(3_000_000))
    t = time.perf_counter()
    with pytest.raises((UnsupportedMedia, InvalidInput)):
        run(settings, [tmp_path / "junk.csv"])
    assert time.perf_counter() - t < 5


def test_mojibake_header_is_refused(settings, tmp_path):
    # UTF-8 Thai decoded as latin-1 and saved again: "à¸£à¸«à¸±à¸ªà¸•à¸³à¸šà¸¥"
    garbled = "รหัสตำบล".encode().decode("latin-1")
    header = [garbled if h == "รหัสตำบล" else h for h in HEADER_TH]
    path = write_csv(tmp_path / "m.csv", good_rows(2), header=header)
    with pytest.raises(InvalidInput, match="garbled"):
        run(settings, [path])


def test_missing_required_column_is_named(settings, tmp_path):
    header = [h for h in HEADER_TH if h != "อายุ"]
    rows = [r[:8] + r[9:] for r in good_rows(2)]
    path = write_csv(tmp_path / "a.csv", rows, header=header)
    with pytest.raises(InvalidInput, match=r"age \(อายุ"):
        run(settings, [path])


def test_short_row_is_refused_with_row_number(settings, tmp_path):
    rows = good_rows(4)
    rows[2] = rows[2][:-3]
    path = write_csv(tmp_path / "s.csv", rows)
    with pytest.raises(InvalidInput, match="12 fields where the header has 15") as exc:
        run(settings, [path])
    assert exc.value.row == 4


# --------------------------------------------------------------------------- validation

CASES = [
    # (column index, bad value, column, code)
    (4, "999999", "tambon_code", "unknown_tambon"),
    (4, "TH75X", "tambon_code", "bad_code"),
    (6, "48.85", "lon", "outside_thailand"),           # lat of Paris
    (6, "99.995", "lon", "swapped_coords"),           # lat/lon swapped (with lon 13.401)
    (6, "north", "lat", "bad_number"),
    (8, "130", "age", "impossible"),
    (8, "-1", "age", "impossible"),
    (8, "4.5", "age", "impossible"),
    (8, "", "age", "missing"),
    (0, "12345", "national_id", "bad_national_id"),
    (0, "1.23457E+12", "national_id", "excel_number"),
    (9, "X", "sex", "bad_sex"),
    (10, "maybe", "welfare_card", "bad_bool"),
    (12, "7", "ind7", "bad_indicator"),
    (14, "-5", "income_per_person_thb", "bad_income"),
    (5, "moo x", "moo", "bad_code"),
]


@pytest.mark.parametrize(("idx", "value", "column", "code"), CASES,
                         ids=[f"{c[2]}-{c[3]}-{c[1]}" for c in CASES])
def test_each_rule_names_file_row_column_and_reason(settings, tmp_path, idx, value, column,
                                                    code):
    rows = good_rows(5)
    rows[2][idx] = value
    if code == "swapped_coords":
        rows[2][7] = "13.401"
    path = write_csv(tmp_path / "v.csv", rows)
    report, cap = run(settings, [path], policy="quarantine")
    code = "bad_age" if code == "impossible" else code
    assert report.status == "created"
    assert (report.n_accepted, report.n_quarantined) == (4, 1)
    hits = [p for p in report.problems if p["code"] == code]
    assert hits, report.problems
    assert hits[0]["file"] == "v.csv" and hits[0]["row"] == 4 and hits[0]["column"] == column
    assert hits[0]["reason_th"] and hits[0]["reason_en"]
    # the accepted rows are exactly the other four
    assert len(cap.persons) == 4
    assert person_pseudonym(KEY, nid(3)) not in cap.persons["person_id"].to_list()


def test_check_digit_rule(settings, tmp_path):
    rows = good_rows(3)
    good = nid(2)
    rows[1][0] = good[:12] + str((int(good[12]) + 1) % 10)
    report, _ = run(settings, [write_csv(tmp_path / "c.csv", rows)], policy="quarantine")
    assert [(p["row"], p["code"]) for p in report.problems] == [(3, "bad_check_digit")]
    # the raw ID is never echoed
    assert all(p["value"] in (None, "***") for p in report.problems)


def test_code_mismatch_and_moo_building(settings, tmp_path):
    header = [*HEADER_TH, "รหัสจังหวัด"]
    rows = [[*r, "75"] for r in good_rows(3)]
    rows[1][-1] = "10"
    report, cap = run(settings, [write_csv(tmp_path / "p.csv", rows, header=header)],
                      policy="quarantine")
    assert [(p["row"], p["column"], p["code"]) for p in report.problems] == [
        (3, "province_code", "code_mismatch")]
    assert cap.persons["province_code"].unique().to_list() == ["TH75"]


def test_duplicate_person_within_and_across_files(settings, tmp_path):
    rows = good_rows(4)
    rows[3][0] = rows[0][0]            # row 5 repeats row 2's national ID
    a = write_csv(tmp_path / "a.csv", rows)
    b = write_csv(tmp_path / "b.csv", [good_rows(6)[5], good_rows(2)[1]])  # repeats a.csv row 3
    report, cap = run(settings, [a, b], policy="quarantine")
    dups = [(p["file"], p["row"], p["value"]) for p in report.problems
            if p["code"] == "duplicate_person"]
    assert dups == [("a.csv", 5, "a.csv row 2"), ("b.csv", 3, "a.csv row 3")]
    assert cap.persons["person_id"].is_unique().all()
    assert report.n_accepted == 4


def test_reject_policy_builds_nothing(settings, tmp_path):
    rows = good_rows(4)
    rows[1][8] = "999"
    report, cap = run(settings, [write_csv(tmp_path / "r.csv", rows)], policy="reject")
    assert report.status == "rejected" and cap.calls == 0
    assert report.problems[0]["row"] == 3


def test_quarantine_file_and_full_report(settings, tmp_path):
    rows = good_rows(5)
    rows[0][8] = "abc"
    rows[4][4] = "123456"
    qdir = tmp_path / "q"
    qdir.mkdir()
    report, cap = run(settings, [write_csv(tmp_path / "in.csv", rows)], policy="quarantine",
                      report_path=tmp_path / "report.csv", quarantine_dir=qdir)
    q = pl.read_csv(qdir / "in.quarantine.csv", infer_schema=False)
    assert q["_row"].to_list() == ["2", "6"]
    assert q["_problems"].to_list() == ["age: bad_age", "tambon_code: unknown_tambon"]
    rep = pl.read_csv(tmp_path / "report.csv", infer_schema=False)
    assert rep.height == report.n_problems == 2
    assert set(rep.columns) >= {"file", "row", "column", "reason_th", "reason_en"}
    assert cap.persons.height == 3


def test_provincial_uploader_rows_outside_province(settings, tmp_path):
    seed_round(settings)
    path = write_csv(tmp_path / "o.csv", good_rows(2))
    report, cap = run(settings, [path], allowed_province="TH10")
    assert report.status == "rejected"
    assert {p["code"] for p in report.problems} == {"wrong_province"}


def test_empty_rows_are_counted_not_silently_dropped(settings, tmp_path):
    rows = [*good_rows(2), [""] * len(HEADER_TH), *good_rows(3)[2:]]
    report, cap = run(settings, [write_csv(tmp_path / "e.csv", rows)])
    assert report.n_blank == 1 and report.to_dict()["empty_rows_skipped"] == 1
    assert cap.persons.height == 3


# --------------------------------------------------------------------------- pseudonyms


def test_national_id_check_digit_known_values():
    # worked example: 1-1017-00230-70-? -> weights 13..2
    body = "110170023070"
    total = sum(int(d) * w for d, w in zip(body, range(13, 1, -1), strict=True))
    assert national_id_check_digit(body) == (11 - total % 11) % 10
    assert is_valid_national_id(nid(42)) and is_valid_national_id("1-0000-00000-42-" + nid(42)[-1])
    assert not is_valid_national_id(nid(42)[:12] + str((int(nid(42)[12]) + 1) % 10))


def test_pseudonyms_are_keyed_and_stable():
    a = Pseudonymiser("k1").one("pid", nid(1))
    assert a == Pseudonymiser("k1").one("pid", nid(1))
    assert a != Pseudonymiser("k2").one("pid", nid(1))
    assert a != Pseudonymiser("k1").one("hh", nid(1))
    assert len(a) == 24 and "k1" not in repr(Pseudonymiser("k1"))


def test_no_raw_identifier_or_name_in_store_or_logs(settings, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    rows = good_rows(6)
    rows[2][8] = "300"   # a quarantined row too: its ID must not leak either
    report, cap = run(settings, [write_csv(tmp_path / "pii.csv", rows)], policy="quarantine",
                      report_path=tmp_path / "report.csv")
    blob = cap.raw_bytes + caplog.text.encode() + repr(report.to_dict()).encode()
    blob += (tmp_path / "report.csv").read_bytes()
    for r in rows:
        for secret in (r[0], r[1], r[3]):
            assert secret.encode() not in blob
    assert KEY.encode() not in blob
    assert not set(cap.persons.columns) & {"national_id", "first_name", "last_name", "house_id"}


def test_identifiers_need_the_key(tmp_path):
    settings = settings_for(tmp_path, pseudonym_key="")
    with pytest.raises(InvalidInput, match="CHIPAO_PSEUDONYM_KEY"):
        run(settings, [write_csv(tmp_path / "k.csv", good_rows(2))])


def test_raw_id_in_person_id_column_is_hashed(settings, tmp_path):
    header = ["person_id", "hh_id", "tambon_code", "age", "sex"]
    rows = [[nid(1), "H1", "TH750101", "30", "M"], ["P-2", "H1", "TH750101", "31", "F"]]
    report, cap = run(settings, [write_csv(tmp_path / "pid.csv", rows, header=header)])
    assert cap.persons["person_id"].to_list() == [person_pseudonym(KEY, nid(1)), "P-2"]


def test_name_only_persons_get_household_scoped_pseudonyms(settings, tmp_path):
    header = ["ชื่อ", "นามสกุล", "รหัสครัวเรือน", "รหัสตำบล", "อายุ", "เพศ"]
    rows = [["สมชาย", "ใจดี", "H1", "750101", "30", "ชาย"],
            ["สมชาย", "ใจดี", "H2", "750101", "50", "ชาย"]]
    report, cap = run(settings, [write_csv(tmp_path / "n.csv", rows, header=header)])
    ids = cap.persons["person_id"].to_list()
    assert report.status == "created" and len(set(ids)) == 2
    assert all("สมชาย" not in i for i in ids)


def test_find_pseudonym_reidentifies_from_the_source_file(settings, tmp_path):
    from service.ingest.find import find_pseudonyms

    path = write_csv(tmp_path / "src.csv", good_rows(4))
    _, cap = run(settings, [path])
    target = cap.persons["person_id"][2]
    hits = list(find_pseudonyms(settings, [path], {target}))
    assert [(h["row"], h["national_id"], h["matched"]) for h in hits] == [(4, nid(3), "person")]
    hh = cap.persons["hh_id"][0]
    assert {h["row"] for h in find_pseudonyms(settings, [path], {hh})} == {2, 3}


def test_province_upload_carries_other_provinces_of_the_same_round(settings, tmp_path):
    from ingest_support import store_build

    header = ["person_id", "hh_id", "tambon_code", "age", "sex"]
    bkk = write_csv(tmp_path / "bkk.csv", [["P1", "H1", "TH100101", "30", "M"]], header=header)
    first = ingest_files(settings, [bkk], dataset="t", round=2567, build=store_build)
    assert first.status == "created"
    ssk = write_csv(tmp_path / "ssk.csv", [["P2", "H2", "TH750101", "40", "F"]], header=header)
    report, cap = run(settings, [ssk])
    assert report.carried_provinces == ["TH10"] and sorted(cap.frames) == ["TH10", "TH75"]
    assert cap.frames["TH10"]["person_id"].to_list() == ["P1"]
    # another round starts afresh; --replace-all style imports carry nothing
    report, cap = run(settings, [ssk], round=2568)
    assert report.carried_provinces == [] and sorted(cap.frames) == ["TH75"]
    report, cap = run(settings, [ssk], carry_over=False)
    assert sorted(cap.frames) == ["TH75"]


def test_docs_cover_every_column_and_rule():
    from service.ingest.schema import ALL_COLUMNS
    from service.ingest.validate import REASONS
    from service.settings import REPO_ROOT

    doc = (REPO_ROOT / "docs" / "ingest.md").read_text(encoding="utf-8")
    missing = [c for c in ALL_COLUMNS if f"`{c}`" not in doc and not c.startswith("ind")]
    missing += [code for code in REASONS if f"`{code}`" not in doc]
    assert missing == []


def test_work_dirs_of_dead_imports_are_removed_live_ones_kept(settings, tmp_path):
    import fcntl

    tmp_root = Path(settings["data_dir"]).resolve() / "tmp"
    dead = tmp_root / "upload-dead"
    live = tmp_root / "ingest-live"
    for d in (dead, live):
        d.mkdir(parents=True)
        (d / "00.upload").write_text("raw upload")
    with open(live / ".lock", "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        run(settings, [write_csv(tmp_path / "w.csv", good_rows(2))])
        assert not dead.exists() and (live / "00.upload").exists()
    assert [p.name for p in tmp_root.iterdir()] == ["ingest-live"]


def test_find_pseudonym_in_tis620_file_leaves_no_copy(settings, tmp_path):
    from service.ingest.find import find_pseudonyms

    src_dir = tmp_path / "province"
    src_dir.mkdir()
    path = write_csv(src_dir / "tis.csv", good_rows(3), encoding="cp874")
    target = person_pseudonym(KEY, nid(2))
    hits = list(find_pseudonyms(settings, [path], {target}))
    assert [(h["row"], h["first_name"]) for h in hits] == [(3, "สมชาย1")]
    assert [p.name for p in src_dir.iterdir()] == ["tis.csv"]


def test_utf16_is_refused_with_advice(settings, tmp_path):
    path = tmp_path / "u16.txt"
    path.write_bytes("รหัสตำบล\tอายุ\n750101\t3\n".encode("utf-16"))
    with pytest.raises(UnsupportedMedia, match="CSV UTF-8"):
        run(settings, [path])


def test_xlsx_typed_cells_numbers_and_booleans(settings, tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["เลขประจำตัวประชาชน", "รหัสประจำบ้าน", "รหัสตำบล", "ละติจูด", "ลองจิจูด", "อายุ",
               "เพศ", "บัตรสวัสดิการแห่งรัฐ", "จปฐ.7", "รายได้เฉลี่ยต่อคนต่อปี"])
    ws.append([int(nid(5)), 75010000001, 750101, 13.401, 99.995, 44, "F", True, 1, 38000.5])
    ws.append([float(nid(6)), 75010000001, 750101, None, None, 40.0, "M", False, 0, 12000])
    wb.save(tmp_path / "typed.xlsx")
    report, cap = run(settings, [tmp_path / "typed.xlsx"])
    assert report.status == "created", report.summary()
    got = cap.persons
    assert got["person_id"].to_list() == [person_pseudonym(KEY, nid(5)),
                                          person_pseudonym(KEY, nid(6))]
    assert got["welfare_card"].to_list() == [True, False]
    assert got["age"].to_list() == [44, 40] and got["lat"].to_list() == [13.401, None]
    assert got["income_per_person_thb"].to_list() == [38000.5, 12000.0]


@pytest.mark.parametrize(("moo", "village"), [("3", "TH75010103"), ("หมู่ที่ 12", "TH75010112"),
                                              ("07", "TH75010107"), ("0", None)])
def test_moo_forms(settings, tmp_path, moo, village):
    rows = good_rows(1)
    rows[0][5] = moo
    report, cap = run(settings, [write_csv(tmp_path / "m.csv", rows)])
    assert report.status == "created" and cap.persons["village_id"].to_list() == [village]


def test_blank_lines_keep_row_numbers_exact(settings, tmp_path):
    path = write_csv(tmp_path / "b.csv", good_rows(4))
    lines = path.read_bytes().split(b"\r\n")
    lines[3] = lines[3].replace(b",22,", b",222,")     # record 3 = spreadsheet row 4 ...
    data = b"\r\n".join(lines[:2] + [b"", b""] + lines[2:]) + b"\r\n\r\n"  # ... now row 6
    path.write_bytes(data)
    report, cap = run(settings, [path], policy="quarantine")
    assert [(p["row"], p["code"]) for p in report.problems] == [(6, "bad_age")]
    assert report.n_blank == 4 and cap.persons.height == 3  # 2 inside, 2 at the end


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_demo_export_without_identifiers_round_trips_exactly(settings, tmp_path,
                                                             make_demo_persons, fmt):
    from polars.testing import assert_frame_equal

    from service.export import export_frame

    demo = pl.read_parquet(Path(make_demo_persons(provinces=["TH75"], amphoes=["TH7502"]))
                           / "persons" / "TH75.parquet")
    if fmt == "xlsx":
        demo = demo.head(2_000)  # openpyxl is slow; the format, not the size, is tested here
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(export_frame(demo.to_pandas(), fmt))
    report, cap = run(settings, [path])
    assert report.status == "created" and report.n_problems == 0, report.summary()
    assert_frame_equal(cap.persons, demo.select(list(PERSON_SCHEMA)))
