"""The fast ingest path (issue 17 item 5) stores what the one-batch, one-process ingest stores:
same pseudonyms (RFC 2104 HMAC-SHA256, as ``hmac.new``), same rows, same problems and
notices, whatever the batch size and the number of worker processes; CSV structure errors
found while pyarrow parses keep their exact message, file and row."""

from __future__ import annotations

import hmac
import pickle
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from ingest_support import HEADER_TH, KEY, good_rows, nid, settings_for, write_csv
from polars.testing import assert_frame_equal

from service.errors import InvalidInput
from service.ingest.dedupe import SeenPersons, person_keys
from service.ingest.pseudonym import Pseudonymiser, household_pseudonym, person_pseudonym
from service.ingest.run import ingest_files


class Capture:
    def __init__(self) -> None:
        self.frames: dict[str, pl.DataFrame] = {}
        self.calls = 0

    def __call__(self, settings, *, persons_dir, **_kw):
        self.calls += 1
        for f in sorted(Path(persons_dir, "persons").glob("*.parquet")):
            self.frames[f.stem] = pl.read_parquet(f)

        class _V:
            id = f"v{self.calls}"
        return _V()

    @property
    def persons(self) -> pl.DataFrame:
        return pl.concat([self.frames[k] for k in sorted(self.frames)])


def _reference(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), "sha256").hexdigest()[:24]


@pytest.mark.parametrize("key", [KEY, "k", "ก" * 40, "x" * 64, "long-" * 30])
def test_pseudonyms_are_rfc2104_hmac_sha256(key):
    p = Pseudonymiser(key)
    values = [nid(i) for i in range(50)] + ["ก๑ ๒", "", "7501000001", None]
    expected = [None if v is None else _reference(key, f"pid:{v}") for v in values]
    assert p.many("pid", values) == expected
    assert pickle.loads(pickle.dumps(p)).many("pid", values) == expected  # worker copy
    distinct = pl.Series("v", values)
    repeated = pl.Series("v", [v for v in values for _ in range(3)])  # household members
    assert p.series("pid", distinct).to_list() == expected
    assert p.series("pid", repeated).to_list() == [e for e in expected for _ in range(3)]
    assert p.one("hh", "x") == _reference(key, "hh:x")
    assert repr(p) == "Pseudonymiser(<key hidden>)"
    if len(key) > 4:  # workers get the derived pads, never the key itself
        assert key.encode() not in pickle.dumps(p)


def _base(n: int = 230) -> list[list[str]]:
    rows = good_rows(n)
    for i, r in enumerate(rows):
        r[8] = str(20 + i % 70)
    return rows


def _planted(n: int = 230) -> list[list[str]]:
    """n persons (2 a household, households crossing batch boundaries of 40) with a bad
    row in the first, a middle and the last batch, a duplicate across batches, a
    municipal tambon (a notice) and IDs typed with dots and Thai digits."""
    rows = _base(n)
    rows[1][8] = "130"                      # row 3, batch 1: bad_age
    rows[101][0] = "12345"                  # row 103, batch 3: bad_national_id
    rows[n - 2][4] = "999999"               # row n, last batch: unknown_tambon
    rows[150][0] = rows[7][0]               # row 152: duplicate of row 9 (batch 1)
    rows[60][0] = ".".join([rows[60][0][:1], rows[60][0][1:5], rows[60][0][5:]])
    rows[120][4] = "750151"                 # row 122: municipal tambon (a notice)
    rows[61][0] = rows[61][0].translate(str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙"))
    return rows


def _ingest(tmp_path: Path, name: str, rows, *, chunk_rows: int, workers: int,
            policy: str = "quarantine"):
    settings = settings_for(tmp_path / name, ingest_chunk_rows=chunk_rows,
                            ingest_workers=workers)
    path = write_csv(tmp_path / "planted.csv", rows)
    cap = Capture()
    report = ingest_files(settings, [path], dataset="t", round=2567, policy=policy,
                          build=cap, report_path=tmp_path / f"{name}-report.csv")
    return report, cap


def test_batches_and_workers_store_the_same_as_one_batch(tmp_path):
    rows = _planted()
    one, one_cap = _ingest(tmp_path, "one", rows, chunk_rows=100_000, workers=1)
    many, many_cap = _ingest(tmp_path, "many", rows, chunk_rows=40, workers=1)
    par, par_cap = _ingest(tmp_path, "par", rows, chunk_rows=40, workers=2)
    assert [(p["row"], p["column"], p["code"]) for p in one.problems] == [
        (3, "age", "bad_age"), (103, "national_id", "bad_national_id"),
        (152, "person_id", "duplicate_person"), (230, "tambon_code", "unknown_tambon")]
    assert one.problems[2]["value"] == "planted.csv row 9"
    assert [(n["row"], n["code"]) for n in one.notices] == [(122, "municipal_tambon")]
    for other, cap in ((many, many_cap), (par, par_cap)):
        assert other.status == one.status == "created"
        assert other.problems == one.problems
        assert other.notices == one.notices
        assert (other.n_records, other.n_accepted, other.n_quarantined) == (230, 226, 4)
        assert other.problem_counts == one.problem_counts
        assert_frame_equal(cap.persons, one_cap.persons)
        assert (tmp_path / "many-report.csv").read_bytes() == \
            (tmp_path / "one-report.csv").read_bytes()
    # pseudonyms are the reference HMAC of the normalised ID (dots, Thai digits removed)
    by_row = {i + 2: r for i, r in enumerate(_base(230))}
    accepted = [r for r in range(2, 232) if r not in (3, 103, 152, 230)]
    expected = [person_pseudonym(KEY, by_row[r][0]) for r in accepted]
    assert sorted(par_cap.persons["person_id"].to_list()) == sorted(expected)
    assert set(par_cap.persons["hh_id"]) == {household_pseudonym(KEY, by_row[r][3])
                                             for r in accepted}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_bad_last_batch_builds_nothing_and_a_reimport_is_existing(tmp_path, workers):
    rows = _planted()
    report, cap = _ingest(tmp_path, f"rej{workers}", rows, chunk_rows=40, workers=workers,
                          policy="reject")
    assert report.status == "rejected" and cap.calls == 0
    settings = settings_for(tmp_path / f"ok{workers}", ingest_chunk_rows=40,
                            ingest_workers=workers)
    from ingest_support import store_build

    path = write_csv(tmp_path / "good.csv", _base(120))
    first = ingest_files(settings, [path], dataset="t", round=2567, build=store_build)
    again = ingest_files(settings, [path], dataset="t", round=2567, build=store_build)
    assert first.status == "created" and again.status == "existing"
    assert again.version_id == first.version_id


@pytest.mark.parametrize("workers", [1, 2])
def test_short_row_in_a_late_batch_keeps_its_exact_message(tmp_path, workers):
    rows = _base(200)
    rows[187] = rows[187][:-3]  # row 189, the fifth batch of 40
    settings = settings_for(tmp_path, ingest_chunk_rows=40, ingest_workers=workers)
    path = write_csv(tmp_path / "s.csv", rows)
    cap = Capture()
    with pytest.raises(InvalidInput, match="12 fields where the header has 15") as exc:
        ingest_files(settings, [path], dataset="t", round=2567, build=cap)
    assert exc.value.row == 189 and exc.value.file == "s.csv" and cap.calls == 0


def test_giant_field_is_refused_with_the_python_message(tmp_path):
    from service.ingest.readers import Limits

    rows = good_rows(5)
    rows[3][1] = "ก" * 70_000
    path = write_csv(tmp_path / "g.csv", rows)
    with pytest.raises(InvalidInput, match="field larger than field limit") as exc:
        ingest_files(settings_for(tmp_path), [path], dataset="t", round=2567, build=Capture(),
                     limits=Limits(max_field_chars=65_536))
    assert exc.value.row == 5


def test_field_limit_counts_characters_not_bytes(tmp_path):
    """A Thai field of 30,000 characters (90,000 UTF-8 bytes) is within a 65,536-character
    limit: the bound read from the offsets (bytes) only decides when it is below the limit."""
    from service.ingest.readers import Limits

    rows = good_rows(5)
    rows[2][13] = "ก" * 30_000  # an indicator column: refused as a bad value, not a field
    path = write_csv(tmp_path / "thai.csv", rows)
    report = ingest_files(settings_for(tmp_path), [path], dataset="t", round=2567,
                          policy="quarantine", build=Capture(),
                          limits=Limits(max_field_chars=65_536))
    assert [(p["row"], p["code"]) for p in report.problems] == [(4, "bad_indicator")]


def test_quoted_newline_and_blank_lines_keep_spreadsheet_rows(tmp_path):
    rows = good_rows(6)
    rows[1][1] = "สมชาย\r\nต่อ"        # a line end inside a quoted value (record 2 = row 3)
    rows[4][8] = "130"                 # row 6
    path = write_csv(tmp_path / "q.csv", rows)
    report = ingest_files(settings_for(tmp_path), [path], dataset="t", round=2567,
                          policy="quarantine", build=Capture())
    assert [(p["row"], p["code"]) for p in report.problems] == [(6, "bad_age")]
    assert report.files[0]["records"] == 6


def test_seen_persons_finds_first_occurrences_across_runs():
    rng = np.random.default_rng(3)
    seen = SeenPersons()
    ids = [f"{i:024x}" for i in rng.permutation(20_000)]
    for b in range(10):  # ten batches of 2,000: runs merged on the way
        part = pl.Series(ids[b * 2000:(b + 1) * 2000])
        k1, k2 = person_keys(part)
        f, _r = seen.lookup(k1, k2)
        assert (f == -1).all()
        seen.add(k1, k2, np.arange(b * 2000, (b + 1) * 2000) + 2, f"f{b % 2}.csv")
    probe = pl.Series([ids[5], ids[19_999], "never-seen", ids[12_345]])
    f, r = seen.lookup(*person_keys(probe))
    assert r[[0, 1, 3]].tolist() == [7, 20_001, 12_347] and f[2] == -1
    assert [seen.files[i] for i in f[[0, 1, 3]]] == ["f0.csv", "f1.csv", "f0.csv"]
    assert seen.n == 20_000 and seen.nbytes() == 20_000 * 18


def test_header_only_and_thai_headers_still_read(tmp_path):
    path = write_csv(tmp_path / "h.csv", [], header=HEADER_TH)
    report = ingest_files(settings_for(tmp_path), [path], dataset="t", round=2567,
                          build=Capture())
    assert report.status == "rejected" and report.n_accepted == 0


def test_a_worker_that_dies_leaves_the_results_unchanged(tmp_path, caplog):
    """A killed worker (out of memory, or a script re-run by spawn): the batches it had are
    validated in the importing process; the import goes on with the same output."""
    import os
    import signal

    from service.ingest.parallel import BatchValidator, ValidatorSpec
    from service.ingest.readers import iter_batches, sniff
    from service.ingest.validate import map_headers

    settings = settings_for(tmp_path)
    src = sniff(write_csv(tmp_path / "w.csv", _planted()))
    spec = ValidatorSpec(map_headers(src.headers, file=src.name), src.name,
                         str(settings.boundaries_dir), None)
    key = Pseudonymiser(KEY)

    def results(workers: int, kill_after: int | None = None):
        out = []
        with BatchValidator(workers, lambda: key, spec.boundaries_dir, key_set=True) as bv:
            bv.start()
            for i, (_raw, good, problems, notices, _n) in enumerate(
                    bv.run(spec, iter_batches(src, chunk_rows=40))):
                out.append((good, problems, notices))
                if i == kill_after:
                    for pid in list(bv._pool._processes):  # type: ignore[union-attr]
                        os.kill(pid, signal.SIGKILL)
        return out

    inline = results(1)
    with caplog.at_level("WARNING", logger="service.ingest.parallel"):
        survived = results(2, kill_after=0)
    assert "ingest workers stopped" in caplog.text  # the fallback did run
    assert len(inline) == len(survived) == 6
    for a, b in zip(inline, survived, strict=True):
        for x, y in zip(a, b, strict=True):
            assert_frame_equal(x, y)


def test_garbled_names_are_found_once_per_distinct_name_on_every_row(tmp_path):
    rows = _base(6)
    garbled = "สมชาย".encode().decode("cp874", errors="replace")  # UTF-8 read as TIS-620
    rows[1][1] = rows[4][1] = garbled      # rows 3 and 6, one distinct value
    rows[2][2] = "ใจดี\ufffd"                # row 4: a replacement character
    rows[3][2] = "à¸ªà¸¡"                    # row 5: UTF-8 read as latin-1
    path = write_csv(tmp_path / "n.csv", rows)
    report = ingest_files(settings_for(tmp_path), [path], dataset="t", round=2567,
                          policy="quarantine", build=Capture())
    assert [(p["row"], p["column"], p["code"], p["value"]) for p in report.problems] == [
        (3, "first_name", "mojibake", None), (4, "last_name", "mojibake", None),
        (5, "last_name", "mojibake", None), (6, "first_name", "mojibake", None)]


def test_prefetched_batches_keep_order_errors_and_stop_the_reader():
    import threading

    from service.ingest.run import prefetched

    closed = threading.Event()

    def reader(n, fail_at=None):
        try:
            for i in range(n):
                if i == fail_at:
                    raise InvalidInput("bad / เสีย", file="x.csv", row=i + 2)
                yield i
        finally:
            closed.set()

    assert list(prefetched(reader(50))) == list(range(50))
    got = []
    with pytest.raises(InvalidInput) as exc:
        for i in prefetched(reader(50, fail_at=7)):
            got.append(i)
    assert got == list(range(7)) and exc.value.row == 9  # every batch before the error
    closed.clear()
    it = prefetched(reader(10_000))
    assert next(it) == 0
    it.close()  # the consumer stops early (an error in a batch): the reader is closed
    assert closed.wait(5)
    assert not [t for t in threading.enumerate() if t.name == "ingest-reader"]


def test_check_digit_in_numpy_equals_the_per_character_formula():
    import random

    from service.ingest.pseudonym import _formula, national_id_check_digit, national_id_check_expr

    rng = random.Random(5)
    values: list[str | None] = []
    for _ in range(20_000):
        body = "".join(rng.choice("0123456789") for _ in range(12))
        values.append(rng.choice([body + str(national_id_check_digit(body)),
                                  body + rng.choice("0123456789"), None, "", body,
                                  body + "12", "๑" * 13, "١" * 13, "ก" + body,
                                  body[:6] + "๑" + body[6:], " " + body + "1"]))
    frame = pl.DataFrame({"v": values})
    sliced = pl.concat([frame.slice(3, 500), frame.slice(9_000, 700)], rechunk=False)
    for f in (frame, sliced):
        assert f.select(national_id_check_expr("v"))["v"].to_list() == \
            f.select(_formula("v"))["v"].to_list()
    assert frame.select(national_id_check_expr("v"))["v"].sum() > 1_000


@pytest.mark.parametrize(("cores", "setting", "expected"),
                         [(1, 0, 1), (2, 0, 1), (3, 0, 1), (4, 0, 3), (16, 0, 4), (2, 3, 3),
                          (8, 1, 1)])
def test_automatic_workers_only_from_four_cores(monkeypatch, cores, setting, expected):
    from service.ingest import parallel

    monkeypatch.setattr(parallel.os, "cpu_count", lambda: cores)
    assert parallel.default_workers(setting) == expected


def test_values_parsed_as_typed_store_what_the_general_rule_stores(tmp_path):
    """Batches whose yes/no, indicator, sex, income and national ID values are all already
    clean are parsed as typed (issue 17 item 5); the same persons typed with spaces,
    separators and Thai digits go through the general rule: same rows, same problems."""
    clean = _base(120)
    for r in clean:
        r[14] = r[14].replace(",", "")          # 30000: parses as typed
    clean[50][12] = "2"                         # row 52: bad_indicator in both files
    clean[90][9] = "x"                          # row 92: bad_sex in both files
    padded = [list(r) for r in clean]
    for i, r in enumerate(padded):
        if i >= 40:                             # the first batch of 40 stays as typed
            r[9], r[10], r[12], r[13] = f" {r[9]}", f"{r[10]} ", f" {r[12]} ", f"\t{r[13]}"
            r[14] = f"{int(r[14]):,} บาท"
            r[0] = f"{r[0][0]}-{r[0][1:5]}-{r[0][5:10]}-{r[0][10:12]}-{r[0][12]}"
    padded[100][13] = ""                        # an empty indicator: not applicable
    clean[100][13] = ""
    out = {}
    for name, rows in (("clean", clean), ("padded", padded)):
        out[name] = _ingest(tmp_path, name, rows, chunk_rows=40, workers=1)
    (a, a_cap), (b, b_cap) = out["clean"], out["padded"]
    assert [(p["row"], p["column"], p["code"], p["value"]) for p in a.problems] == [
        (52, "ind7", "bad_indicator", "2"), (92, "sex", "bad_sex", "x")]
    assert b.problems == a.problems and b.notices == a.notices
    assert_frame_equal(b_cap.persons, a_cap.persons)
    persons = a_cap.persons
    assert persons.height == 118 and persons["income_per_person_thb"].null_count() == 0
    assert persons["ind22"].null_count() == 1 and set(persons["sex"]) == {"M", "F"}
