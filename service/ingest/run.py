"""``ingest_files``: sniff, validate, pseudonymise and hand canonical persons to the pipeline.

Canonical rows are streamed in chunks into ``persons/<province>.parquet`` in a private work
directory under ``<data_dir>/tmp``; :func:`service.pipeline.build_version` then scores,
aggregates and publishes the version atomically. Until it publishes, the previous version
stays current: killing an import at any point changes nothing that is served.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from service.errors import InvalidInput
from service.ingest.dedupe import SeenPersons, person_keys
from service.ingest.parallel import BatchValidator, ValidatorSpec, default_workers
from service.ingest.pseudonym import Pseudonymiser
from service.ingest.readers import Limits, SourceFile, iter_batches, sniff
from service.ingest.report import ImportReport, counted
from service.ingest.schema import PERSON_SCHEMA
from service.ingest.validate import NOTICES, REASONS, admin_codes, amphoe_codes, map_headers
from service.settings import SettingsLike, as_settings

log = logging.getLogger(__name__)

POLICIES = ("reject", "quarantine")
#: problems that refuse the whole import whatever the policy (access control, not quality)
FATAL_CODES = frozenset({"wrong_province"})
#: files at least this large are validated in several processes (ingest_workers = 0)
PARALLEL_BYTES = 32 * 2**20
#: problems kept in the report object (all of them go to the report file)
MAX_LISTED = 1_000


@dataclass
class IngestReport(ImportReport):
    """What an import did: counts, problems (file, row, column, reason), the version."""

    REASONS = REASONS
    FATAL_CODES = FATAL_CODES
    HEADINGS: ClassVar[Mapping[str, str]] = {
        "created": "นำเข้าสำเร็จ สร้างรุ่นข้อมูลใหม่ / imported: new version",
        "existing": "ไฟล์นี้เคยนำเข้าแล้ว ไม่สร้างรุ่นใหม่ / already imported (same SHA-256): "
                    "no new version",
        "rejected": "ปฏิเสธการนำเข้า รุ่นข้อมูลเดิมยังใช้งานอยู่ / import rejected: the "
                    "current version is unchanged",
    }

    dataset: str
    round: int
    policy: str
    source_sha256: str = ""
    files: list[dict[str, Any]] = field(default_factory=list)
    n_quarantined: int = 0
    n_blank: int = 0
    #: notices (accepted rows, not problems): (column, code) -> n, and the first rows
    notice_counts: Counter = field(default_factory=Counter)
    notices: list[dict[str, Any]] = field(default_factory=list)
    version_id: str | None = None
    report_file: str | None = None
    quarantine_files: list[str] = field(default_factory=list)
    carried_provinces: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "round": self.round, "policy": self.policy,
            "status": self.status, "source_sha256": self.source_sha256,
            "version": self.version_id, "files": self.files,
            "records": self.n_records, "accepted": self.n_accepted,
            "quarantined": self.n_quarantined, "empty_rows_skipped": self.n_blank,
            "problem_counts": self.problem_rows(),
            "problems": self.problems,
            "problems_listed": len(self.problems), "problems_total": self.n_problems,
            "notice_counts": counted(self.notice_counts, NOTICES),
            "notices": self.notices,
            "report_file": self.report_file, "quarantine_files": self.quarantine_files,
            "carried_provinces": self.carried_provinces,
            "seconds": round(self.seconds, 2),
        }

    def summary(self) -> str:
        """Human summary in Thai and English (no personal data)."""
        lines = [self.heading() + (f" ({self.version_id})" if self.version_id else ""),
                 self.counts_line(f"กักไว้/quarantined {self.n_quarantined:,}")]
        for (col, code), n in self.problem_counts.most_common(15):
            th, en = REASONS[code]
            lines.append(f"  {n:>10,}  {col}: {en} / {th}")
        for (col, code), n in sorted(self.notice_counts.items()):
            th, en = NOTICES[code]
            lines.append(f"  {n:>10,}  หมายเหตุ/note {col}: {en} / {th}")
        for p in self.problems[:10]:
            lines.append(f"    {p['file']} row {p['row']:,} column {p['column']}: {p['reason_en']}"
                         + (f" ({p['value']})" if p.get("value") else ""))
        if self.carried_provinces:
            lines.append("  จังหวัดอื่นคงข้อมูลเดิม / other provinces carried over from the current "
                         f"version: {', '.join(self.carried_provinces)}")
        if self.report_file:
            lines.append(f"  รายงานทั้งหมด / full report: {self.report_file}")
        for q in self.quarantine_files:
            lines.append(f"  แถวที่กักไว้ / quarantined rows: {q}")
        return "\n".join(lines)


_NO_DICTIONARY = ("person_id", "hh_id", "lon", "lat", "income_per_person_thb")


class _ProvinceWriters:
    """One streaming Parquet writer per province under ``<dir>/persons/``."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "persons"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.schema = pl.DataFrame(schema=PERSON_SCHEMA).to_arrow().schema
        self.writers: dict[str, pq.ParquetWriter] = {}
        #: pseudonyms and measures are (nearly) all distinct: a dictionary only costs time
        self.dictionary = [c for c in PERSON_SCHEMA if c not in _NO_DICTIONARY]
        self._queue: queue.Queue[pl.DataFrame | None] = queue.Queue(maxsize=2)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def write(self, frame: pl.DataFrame) -> None:
        """Queue ``frame`` for the writer thread (Parquet encoding releases the GIL: it
        overlaps the next batch's validation); at most two frames wait."""
        if self._error is not None:
            raise self._error
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name="ingest-writer",
                                            daemon=True)
            self._thread.start()
        self._queue.put(frame)

    def _drain(self) -> None:
        while (frame := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._write(frame)
                except BaseException as exc:  # re-raised by write()/close() in the caller
                    self._error = exc

    def _write(self, frame: pl.DataFrame) -> None:
        for (prov,), part in frame.partition_by("province_code", as_dict=True).items():
            w = self.writers.get(str(prov))
            if w is None:
                w = pq.ParquetWriter(self.dir / f"{prov}.parquet", self.schema,
                                     compression="zstd", use_dictionary=self.dictionary)
                self.writers[str(prov)] = w
            w.write_table(pa.Table.from_batches(
                [b.cast(self.schema) for b in part.select(list(PERSON_SCHEMA)).to_arrow()
                 .to_batches()], schema=self.schema))

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        for w in self.writers.values():
            w.close()
        if self._error is not None:
            raise self._error


def prefetched(batches: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """``batches`` read ahead by a thread (pyarrow's parser releases the GIL: the next batch
    is parsed while this one is validated). Items and the reader's exception arrive in
    order; at most ``depth`` batches wait. Stopping early stops and closes the reader."""
    items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in batches:
                while not stop.is_set():
                    try:
                        items.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
            else:
                items.put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            items.put(("error", exc))
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="ingest-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = items.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                items.get(timeout=0.1)
        thread.join()


def remove_stale_work_dirs(settings: SettingsLike) -> int:
    """Remove the work directories of processes that died (killed imports, crashed uploads:
    raw files with IDs and names). Called at every import and when the app starts."""
    settings = as_settings(settings)
    tmp_root = Path(settings.data_dir).resolve() / "tmp"
    if not tmp_root.is_dir():
        return 0
    removed = 0
    for stale in [*tmp_root.glob("ingest-*"), *tmp_root.glob("upload-*"),
                  *tmp_root.glob(".new-*")]:
        lock_file = stale / ".lock"
        if not lock_file.exists():
            # a directory without its lock is never a live one: live directories are
            # created with the lock held (see open_work_dir), except a ".new-" one being made
            if stale.name.startswith(".new-") and time.time() - stale.stat().st_mtime < 60:
                continue
            shutil.rmtree(stale, ignore_errors=True)
            removed += 1
            continue
        try:
            with open(lock_file, "r+") as fh:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(stale, ignore_errors=True)
                removed += 1
                log.info("removed the work directory of an interrupted import: %s", stale.name)
        except (BlockingIOError, FileNotFoundError, NotADirectoryError):
            continue  # in use by a live import, or already gone
    return removed


def open_work_dir(settings: SettingsLike, prefix: str) -> tuple[Path, Any]:
    """A private directory under ``<data_dir>/tmp`` holding an exclusive lock while in use.

    Directories of processes that died are removed here (and at start-up), so raw uploads
    never linger in the data directory. The directory is created under a hidden name, locked,
    and only then renamed to ``<prefix>*``: another import's clean-up can never take a
    directory that is being set up for one whose lock is not taken yet.
    """
    settings = as_settings(settings)
    tmp_root = Path(settings.data_dir).resolve() / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    remove_stale_work_dirs(settings)
    new = Path(tempfile.mkdtemp(prefix=".new-", dir=tmp_root))
    lock = open(new / ".lock", "a+")
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=tmp_root))
    os.replace(new, work)  # an empty directory is replaced atomically
    return work, lock


def close_work_dir(work: Path, lock: Any) -> None:
    shutil.rmtree(work, ignore_errors=True)
    lock.close()


def combined_sha256(sources: Sequence[SourceFile]) -> str:
    """One file: its SHA-256. Several: SHA-256 of their sorted digests (order-free)."""
    if len(sources) == 1:
        return sources[0].sha256
    return hashlib.sha256("\n".join(sorted(s.sha256 for s in sources)).encode()).hexdigest()


def ingest_files(settings: SettingsLike, files: Sequence[str | Path], *, dataset: str,
                 round: int, policy: str = "reject", names: Sequence[str] | None = None,
                 allowed_province: str | None = None, progress: bool = False,
                 report_path: str | Path | None = None, quarantine_dir: str | Path | None = None,
                 limits: Limits | None = None, build: Any = None,
                 carry_over: bool = True) -> IngestReport:
    """Import survey/registry files as a new version of ``dataset``.

    ``policy`` is ``reject`` (any problem refuses the whole import) or ``quarantine`` (valid
    rows are imported; invalid rows are listed in the report and, when ``quarantine_dir`` is
    given, copied there with their reasons). ``names`` are display names for ``files``
    (uploads). ``allowed_province`` restricts rows to one province (provincial uploaders).
    Raises :class:`~service.errors.InvalidInput` (or another ChipaoError) for a file that
    cannot be read at all; returns a report with ``status == "rejected"`` for bad rows.
    With ``carry_over`` (default), provinces absent from the files keep their rows from the
    current version when it is of the same round, so one province's upload updates that
    province only. ``build`` replaces :func:`service.pipeline.build_version` (tests).
    """
    settings = as_settings(settings)
    from service.store import open_store
    from service.store.catalog import validate_dataset_name

    t0 = time.perf_counter()
    validate_dataset_name(dataset)
    if policy not in POLICIES:
        raise InvalidInput(f"policy must be one of {', '.join(POLICIES)} / นโยบายไม่ถูกต้อง",
                           column="policy")
    if not files:
        raise InvalidInput("no input files / ไม่มีไฟล์นำเข้า")
    workers = settings.ingest_workers
    if workers == 0:
        big = sum(Path(f).stat().st_size for f in files) >= PARALLEL_BYTES
        workers = default_workers(0) if big else 1
    # validating here: the boundaries the rules read load while the catalog opens and the
    # file is sniffed (worker processes load their own as they start)
    warm = threading.Thread(target=_load_boundaries if workers == 1 else _nothing,
                            args=(str(settings.boundaries_dir),), name="ingest-boundaries",
                            daemon=True)
    warm.start()
    store = open_store(settings)
    if allowed_province is not None:
        check_provincial_write(store, dataset, int(round))
    # the round's partitions as this upload found them: a concurrent upload that changes one
    # of this upload's provinces meanwhile makes this one a conflict (409), never a lost update
    base = store.released_of_round(dataset, int(round))
    typed = as_settings(settings)  # defaults declared once (service.settings)
    limits = limits or Limits(max_uncompressed_bytes=typed.ingest_max_uncompressed_mb * 2**20)
    chunk_rows = typed.ingest_chunk_rows
    report = IngestReport(dataset, int(round), policy)
    work, lock = open_work_dir(settings, "ingest-")
    key = typed.pseudonym_key
    pseudonymiser: list[Pseudonymiser] = []

    def get_pseudonymiser() -> Pseudonymiser:
        if not pseudonymiser:
            pseudonymiser.append(Pseudonymiser(key))
        return pseudonymiser[0]

    report_fh = None
    # worker processes start first: their imports overlap the SHA-256 of a large file
    validators = BatchValidator(workers, get_pseudonymiser, str(settings.boundaries_dir),
                                key_set=bool(key))
    try:
        validators.start()
        names = list(names) if names is not None else [Path(f).name for f in files]
        sources = [sniff(f, name=n, limits=limits, work_dir=work) for f, n in zip(files, names,
                                                                                   strict=True)]
        report.files = [s.describe() for s in sources]
        report.source_sha256 = combined_sha256(sources)
        reapply = False
        released = store.released_of_round(dataset, int(round))
        if released is not None and (released.meta or {}).get(
                "file_sha256") == report.source_sha256:
            # this file was re-applied over newer partitions and that version is released
            report.status, report.version_id = "existing", released.id
            return report
        existing = store.catalog.find_by_sha256(dataset, report.source_sha256)
        if existing is not None:
            if reimport(store, existing, uploader_province=allowed_province):
                report.status, report.version_id = "existing", existing.id
                log.info("ingest %s: same SHA-256 as version %s (released)", dataset,
                         existing.id)
                return report
            reapply = True  # the earlier file over partitions that changed since: rebuild
        mappings = [map_headers(s.headers, file=s.name) for s in sources]
        for s, m in zip(sources, mappings, strict=True):
            report.files[sources.index(s)].update(
                {"ignored_columns": m.ignored, "absent_columns": m.absent})
        if report_path:
            report_fh = open(report_path, "w", encoding="utf-8-sig", newline="")
            report_w = csv.writer(report_fh)
            report_w.writerow(["file", "row", "column", "code", "reason_th", "reason_en",
                               "value"])
            report.report_file = str(report_path)
        warm.join()
        writers = _ProvinceWriters(work)
        seen = SeenPersons()
        total = sum(s.n_records or 0 for s in sources)
        from tqdm import tqdm

        bar = tqdm(total=total or None, unit=" rows", disable=not progress, unit_scale=True,
                   desc="ingest")
        try:
            for i, (src, mapping) in enumerate(zip(sources, mappings, strict=True)):
                spec = ValidatorSpec(mapping, src.name, str(settings.boundaries_dir),
                                     allowed_province)
                qpath = None
                if quarantine_dir is not None and policy == "quarantine":
                    qpath = Path(quarantine_dir) / f"{Path(src.name).stem}.quarantine.csv"
                q_first = True
                for raw, good, problems, notices, n_blank in validators.run(
                        spec, prefetched(iter_batches(src, chunk_rows=chunk_rows,
                                                      limits=limits))):
                    report.n_blank += n_blank
                    good, dup = _duplicates(good, seen, src.name)
                    _record_notices(report, notices.filter(
                        pl.col("_row").is_in(good["_row"].implode())), src.name)
                    if dup.height:
                        problems = pl.concat([problems, dup])
                    report.n_records += raw.height
                    bad_rows = problems["_row"].n_unique()
                    report.n_quarantined += bad_rows
                    report.n_accepted += good.height
                    _record_problems(report, problems, src.name,
                                     report_w if report_fh else None)
                    if policy == "quarantine" or report.n_problems == 0:
                        writers.write(good)
                    if qpath is not None and problems.height:
                        _write_quarantine(qpath, raw, problems, first=q_first)
                        q_first = False
                    bar.update(raw.height)
                report.n_blank += len(src.blank_lines)
                report.files[i]["records"] = src.n_records
                if qpath is not None and not q_first:
                    report.quarantine_files.append(str(qpath))
        finally:
            bar.close()
            writers.close()
            validators.close()
        if report_fh is not None:
            report_fh.close()
            report_fh = None
        if report.forbidden or (report.n_problems and policy == "reject") or report.n_accepted == 0:
            report.status = "rejected"
        else:
            present = set(writers.writers)
            if build is None:
                from service.pipeline import build_version as build
            # one lock over carry-over, build and publish: two uploads to one round never
            # both carry over the same old partitions
            with store.dataset_lock(dataset):
                now = store.released_of_round(dataset, int(round))
                check_conflict(base, now, present)
                partitions = dict.fromkeys(present, "self")
                if carry_over and now is not None:
                    report.carried_provinces = _carry_over(now, work, present)
                    old_parts = partitions_of(now)
                    partitions.update({p: old_parts.get(p, now.id)
                                       for p in report.carried_provinces})
                # a file re-applied over newer partitions is a new source (one ready
                # version per source): the file and the partitions it was applied over
                source = report.source_sha256 if not reapply else hashlib.sha256(
                    f"{report.source_sha256}|over|{now.id if now else '-'}".encode()
                ).hexdigest()
                version = build(settings, dataset=dataset, round=int(round),
                                persons_dir=work, source_sha256=source,
                                progress=progress,
                                extra_meta={"partitions": partitions,
                                            "uploaded_provinces": sorted(present),
                                            "base_version": now.id if now else None,
                                            "file_sha256": report.source_sha256})
            report.version_id = version.id
            report.status = "created"
        log.info("ingest %s: %s, %d records, %d accepted, %d quarantined, %d problems",
                 dataset, report.status, report.n_records, report.n_accepted,
                 report.n_quarantined, report.n_problems)
        return report
    finally:
        validators.close()
        if report_fh is not None:
            report_fh.close()
        report.seconds = time.perf_counter() - t0
        close_work_dir(work, lock)


def _nothing(_boundaries_dir: str) -> None:
    return None


def _load_boundaries(boundaries_dir: str) -> None:
    """Load (and cache) the tambon and amphoe codes and Thailand's outline; a failure is
    left for the validator to raise in the importing thread."""
    with contextlib.suppress(Exception):
        admin_codes(boundaries_dir)
        amphoe_codes(boundaries_dir)


def check_provincial_write(store: Any, dataset: str, round: int) -> None:
    """Provincial users update their province's partition of an existing round only:
    datasets and rounds are created by national users (docs/security.md, writes)."""
    from service.errors import Forbidden

    if dataset not in store.datasets():
        raise Forbidden(f"only national users create datasets; {dataset!r} does not exist "
                        f"/ ชุดข้อมูล {dataset!r} ยังไม่มี ผู้ใช้ระดับประเทศเท่านั้นที่สร้างชุดข้อมูลใหม่ได้")
    if store.released_of_round(dataset, round) is None:
        raise Forbidden(f"only national users create rounds; dataset {dataset!r} has no round "
                        f"{round} / ชุดข้อมูล {dataset!r} ยังไม่มีรอบ {round} "
                        "ผู้ใช้ระดับประเทศเท่านั้นที่สร้างรอบข้อมูลใหม่ได้")


def partitions_of(version: Any) -> dict[str, str]:
    """province -> id of the version whose upload produced that province's rows."""
    meta = getattr(version, "meta", None) or {}
    parts = meta.get("partitions")
    if not isinstance(parts, dict):  # versions built before partitions were recorded
        return dict.fromkeys(meta.get("provinces", []), version.id)
    return {p: (version.id if src == "self" else str(src)) for p, src in parts.items()}


def check_conflict(base: Any, now: Any, present: set[str]) -> None:
    """409 when another upload changed one of ``present``'s partitions after this upload
    started (optimistic concurrency: nothing is overwritten silently)."""
    from service.errors import Conflict

    if now is None or (base is not None and base.id == now.id):
        return
    before = partitions_of(base) if base is not None else {}
    after = partitions_of(now)
    changed = sorted(p for p in present if after.get(p) != before.get(p))
    if changed:
        raise Conflict(
            f"another upload changed {', '.join(changed)} of this round while yours was "
            f"being read (now version {now.id}); nothing was imported: check the current "
            f"data and upload again / มีการนำเข้าข้อมูลจังหวัด {', '.join(changed)} "
            "ของรอบนี้ระหว่างที่ไฟล์ของคุณกำลังอ่าน จึงไม่ได้นำเข้า ตรวจสอบข้อมูลปัจจุบันแล้วนำเข้าใหม่")


def reimport(store: Any, existing: Any, *, uploader_province: str | None) -> bool:
    """A file already stored as ``existing`` is uploaded again. True when that version is
    (now) the released one of its round: already released, or released again here
    (roll-back), which is allowed when every partition it would bring back is either the
    uploader's own or unchanged since. False: the file must be re-applied over the newer
    partitions of other provinces (a new version, same source)."""
    released = store.released_of_round(existing.dataset, existing.round)
    if released is None or released.id == existing.id:
        return True
    mine = partitions_of(existing)
    now = partitions_of(released)
    own = {p for p, src in mine.items() if src == existing.id}
    if uploader_province is not None and own - {uploader_province}:
        return False
    unchanged = all(now.get(p) == src for p, src in mine.items() if p not in own)
    if unchanged and set(now) <= set(mine):
        store.catalog.release(existing.dataset, existing.id)
        log.info("dataset %s: version %s released again (roll-back by re-upload)",
                 existing.dataset, existing.id)
        return True
    return False


def _carry_over(current: Any, work: Path, present: set[str]) -> list[str]:
    """Copy the canonical rows of provinces not in this import from the round's released
    version (called under the dataset lock)."""
    carried = []
    for f in sorted((Path(current.path) / "persons").glob("*.parquet")):
        if f.stem in present:
            continue
        pl.scan_parquet(f).select(list(PERSON_SCHEMA)).sink_parquet(
            work / "persons" / f.name, compression="zstd")
        carried.append(f.stem)
    return carried


def _duplicates(good: pl.DataFrame, seen: SeenPersons, file: str
                ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split off rows whose person_id was seen before (earlier batch/file or earlier row);
    the others are added to ``seen``."""
    k1, k2 = person_keys(good["person_id"])
    before_file, before_row = seen.lookup(k1, k2)
    g = good.select("_row", "person_id").with_columns(
        _bf=pl.Series(before_file, dtype=pl.Int32), _br=pl.Series(before_row, dtype=pl.Int64),
        _first=pl.col("_row").first().over("person_id"))
    dup_mask = (pl.col("_bf") >= 0) | (pl.col("_first") != pl.col("_row"))
    keep = g.select(~dup_mask).to_series()
    names = pl.Series([*seen.files, file], dtype=pl.String)
    dups = g.filter(dup_mask).select(
        pl.col("_row"), pl.lit("person_id").alias("column"),
        pl.lit("duplicate_person").alias("code"),
        pl.when(pl.col("_bf") >= 0).then(pl.format(
            "{} row {}", pl.lit(names).gather(pl.col("_bf").clip(0)), pl.col("_br")))
        .otherwise(pl.format("{} row {}", pl.lit(file), pl.col("_first"))).alias("value"))
    mask = keep.to_numpy()
    seen.add(k1[mask], k2[mask], good["_row"].to_numpy()[mask], file)
    return good.filter(keep), dups


def _record_problems(report: IngestReport, problems: pl.DataFrame, file: str,
                     writer: Any) -> None:
    if not problems.height:
        return
    problems = problems.sort("_row")
    for col, code, n in problems.group_by(["column", "code"]).len().iter_rows():
        report.problem_counts[(col, code)] += n
    for row, col, code, value in problems.iter_rows():
        th, en = REASONS[code]
        if len(report.problems) < MAX_LISTED:
            report.problems.append({"file": file, "row": row, "column": col, "code": code,
                                    "reason_th": th, "reason_en": en, "value": value})
        elif writer is None:
            break
        if writer is not None:
            writer.writerow([file, row, col, code, th, en, value or ""])


def _record_notices(report: IngestReport, notices: pl.DataFrame, file: str) -> None:
    """Count notices of accepted rows; list the first ones (not written to the CSV report,
    which lists problems only)."""
    if not notices.height:
        return
    for col, code, n in notices.group_by(["column", "code"]).len().iter_rows():
        report.notice_counts[(col, code)] += n
    room = MAX_LISTED - len(report.notices)
    for row, col, code, value in notices.sort("_row").head(max(room, 0)).iter_rows():
        th, en = NOTICES[code]
        report.notices.append({"file": file, "row": row, "column": col, "code": code,
                               "reason_th": th, "reason_en": en, "value": value})


def _write_quarantine(path: Path, raw: pl.DataFrame, problems: pl.DataFrame, *,
                      first: bool) -> None:
    """Copy rejected raw rows with their reasons (held by the province, outside the store)."""
    reasons = problems.group_by("_row").agg(
        pl.format("{}: {}", pl.col("column"), pl.col("code")).str.join("; ").alias("_problems"))
    rows = raw.join(reasons, on="_row", how="inner").sort("_row")
    rows = rows.select("_row", "_problems", *[c for c in raw.columns if c != "_row"])
    with open(path, "wb" if first else "ab") as fh:
        if first:
            fh.write(b"\xef\xbb\xbf")  # BOM: Excel on Thai Windows opens it as UTF-8
        rows.write_csv(fh, include_header=first)
