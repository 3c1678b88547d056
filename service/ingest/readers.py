"""Readers for CSV (UTF-8, UTF-8 with BOM, TIS-620/cp874), XLSX and Parquet files.

Every reader yields batches as polars frames of *strings* with the source headers and a
``_row`` column holding the spreadsheet row number (header = row 1, first record = row 2),
so every later message can name the row a person sees in Excel. Nothing is guessed
silently: a file that is neither valid UTF-8 nor valid cp874 is refused with the line of the
first bad byte, and hostile files (binary garbage, zip bombs, XML bombs, giant lines or
fields) are refused before they are parsed.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from service.errors import InvalidInput, PayloadTooLarge, UnsupportedMedia

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_HIGH_BYTES = bytes(range(0x80, 0x100))
_CONTROL = bytes([b for b in range(0x20) if b not in (0x09, 0x0A, 0x0D)])


@dataclass(frozen=True)
class Limits:
    """Guards against hostile or broken input. Sizes in bytes."""

    max_line_bytes: int = 1 << 20
    max_field_chars: int = 65_536
    max_columns: int = 500
    max_uncompressed_bytes: int = 1 << 30
    max_compression_ratio: float = 100.0
    max_zip_members: int = 5_000
    #: more person records than Thailand's whole BMN survey (36.6 M) is not an upload
    max_rows: int = 50_000_000


@dataclass
class SourceFile:
    """An input file after sniffing: format, encoding, digest, headers, record count."""

    path: Path
    name: str
    format: str
    sha256: str
    size_bytes: int
    encoding: str | None = None
    headers: list[str] = field(default_factory=list)
    n_records: int | None = None
    #: UTF-8 copy of a cp874 CSV, parsed instead of the original
    utf8_path: Path | None = None
    #: blank lines (skipped by the parser), each as the number of records before it
    blank_lines: list[int] = field(default_factory=list)
    #: CSV whose fields per record and field sizes are checked while pyarrow parses it
    structure_pending: bool = False

    def describe(self) -> dict:
        return {"file": self.name, "format": self.format, "encoding": self.encoding,
                "sha256": self.sha256, "size_bytes": self.size_bytes,
                "records": self.n_records}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sniff(path: str | Path, *, name: str | None = None, limits: Limits = Limits(),
          work_dir: Path | None = None) -> SourceFile:
    """Identify the format of ``path`` and check it is safe to parse.

    ``name`` is the file name shown in messages (an upload's original name).
    """
    path = Path(path)
    name = name or path.name
    size = path.stat().st_size
    if size == 0:
        raise InvalidInput("ไฟล์ว่าง / the file is empty", file=name)
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PAR1"):
        src = SourceFile(path, name, "parquet", sha256_of(path), size)
        _check_parquet(src, limits)
    elif head.startswith(b"PK\x03\x04"):
        src = SourceFile(path, name, "xlsx", sha256_of(path), size)
        _check_xlsx(src, limits)
        wb, _rows, src.headers = _open_xlsx(src, limits)
        _close_xlsx(wb)
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnsupportedMedia(
            f"file {name}: ไฟล์เป็น UTF-16 (Unicode text) กรุณาบันทึกเป็น CSV UTF-8 / UTF-16 "
            "'Unicode text' is not supported: save as 'CSV UTF-8'")
    elif head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnsupportedMedia(
            f"file {name}: ไฟล์ Excel รุ่นเก่า (.xls) ไม่รองรับ กรุณาบันทึกเป็น .xlsx หรือ CSV UTF-8 / "
            "legacy .xls is not supported: save as .xlsx or CSV UTF-8")
    else:
        src = _sniff_csv(path, name, size, limits, work_dir)
    log.info("ingest: %s is %s (%s), %s bytes", name, src.format, src.encoding or "-", size)
    return src


# ---------------------------------------------------------------------------------- CSV


def _line_of(newlines_before: int, chunk: bytes, offset: int) -> int:
    return newlines_before + chunk.count(b"\n", 0, offset) + 1


def _sniff_csv(path: Path, name: str, size: int, limits: Limits,
               work_dir: Path | None) -> SourceFile:
    """One pass over the bytes (C-speed only): SHA-256, binary and line-length guards, UTF-8
    validity (exact line of the first bad byte), and whether the file has blank lines.

    A UTF-8 file without blank lines has its structure (fields per record, field sizes)
    checked by pyarrow while it is parsed (:func:`_csv_batches`); any doubt there re-runs
    the exact Python check (:func:`_check_csv_structure`), so messages never change. cp874
    files and files with blank lines get the Python check here, as before.
    """
    digest = hashlib.sha256()
    utf8_error: int | None = None   # line of the first invalid UTF-8 byte
    newlines = 0
    run = 0                          # bytes since the last newline
    bom = False
    blank = False                    # two line ends in a row somewhere (a blank line)
    tail = b""                       # bytes after the last newline not yet UTF-8-checked
    last = b""
    with open(path, "rb") as f:
        first = True
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            if first:
                bom = chunk.startswith(codecs.BOM_UTF8)
                blank = chunk[3 if bom else 0:][:1] in (b"\n", b"\r")
                first = False
            if b"\x00" in chunk or _mostly_binary(chunk):
                raise UnsupportedMedia(
                    f"file {name}: ไฟล์ไม่ใช่ข้อความ CSV (พบข้อมูลไบนารี) / not a CSV, XLSX or "
                    f"Parquet file (binary bytes after line {newlines + 1:,})")
            # line length guard: a giant line is refused before anything buffers it
            nl = chunk.rfind(b"\n")
            if nl == -1:
                run += len(chunk)
            else:
                run += chunk.find(b"\n")
                if run > limits.max_line_bytes:
                    break
                run = len(chunk) - nl - 1
            if run > limits.max_line_bytes:
                break
            if not blank:
                blank = _has_blank_line(last + chunk)
            last = chunk[-1:]
            if utf8_error is None:
                # newline-aligned blocks: a newline never sits inside a UTF-8 sequence
                if nl == -1:
                    tail += chunk
                else:
                    block, tail = tail + chunk[:nl + 1], chunk[nl + 1:]
                    if not _utf8_valid(block):  # the tail holds no newline
                        utf8_error = _utf8_error_line(block, newlines)
            newlines += chunk.count(b"\n")
    if run > limits.max_line_bytes:
        raise InvalidInput(
            f"บรรทัดยาวเกิน {limits.max_line_bytes:,} ไบต์ / a line is longer than "
            f"{limits.max_line_bytes:,} bytes (not a person record)", file=name, row=newlines + 1)
    if utf8_error is None and tail and not _utf8_valid(tail):
        utf8_error = newlines + 1
    cp874_error = looks_utf8 = None
    if utf8_error is not None:
        cp874_error, utf8_thai, high = _cp874_scan(path)
        # Thai UTF-8 letters are 3 bytes starting E0 B8/E0 B9; when they make up most of the
        # high bytes the file is broken UTF-8, not TIS-620 (which would decode to mojibake)
        looks_utf8 = bom or utf8_thai * 3 * 2 > high
    if utf8_error is None:
        encoding = "utf-8-sig" if bom else "utf-8"
    elif cp874_error is None and not looks_utf8:
        encoding = "cp874"
    else:
        line = utf8_error if looks_utf8 or cp874_error is None else cp874_error
        raise InvalidInput(
            "ถอดรหัสอักขระไม่ได้: ไฟล์ไม่ใช่ UTF-8 หรือ TIS-620 ที่ถูกต้อง กรุณาบันทึกใหม่เป็น CSV UTF-8 / "
            "cannot decode the text: the file is neither valid UTF-8 nor valid TIS-620/cp874 "
            "(save it again as 'CSV UTF-8')", file=name, row=line)
    src = SourceFile(path, name, "csv", digest.hexdigest(), size, encoding=encoding)
    if encoding == "cp874" or blank:
        _check_csv_structure(src, limits, work_dir)
    else:
        src.headers = _csv_header(src, limits)
        src.structure_pending = True
    return src


def _has_blank_line(data: bytes) -> bool:
    """Two line ends in a row (LF LF, CR CR, LF CR: a blank line under LF, CR or CRLF line
    ends), or a line end inside a quoted value: then the exact Python check runs (slower,
    the same result). numpy: ~5x faster than ``bytes.__contains__`` for these patterns."""
    import numpy as np

    a = np.frombuffer(data, dtype=np.uint8)
    lf = a == 10
    if (lf[1:] & lf[:-1]).any():
        return True
    cr = a == 13
    return bool(cr.any() and ((cr[1:] & cr[:-1]).any() or (lf[:-1] & cr[1:]).any()))


def _utf8_valid(block: bytes) -> bool:
    """UTF-8 validity without building a Python str (arrow's validator)."""
    import numpy as np
    import pyarrow as pa

    arr = pa.Array.from_buffers(pa.large_string(), 1, [
        None, pa.py_buffer(np.array([0, len(block)], dtype=np.int64)), pa.py_buffer(block)])
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _utf8_error_line(block: bytes, newlines_before: int) -> int:
    try:
        block.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _line_of(newlines_before, block, exc.start)
    return newlines_before + block.count(b"\n") + 1  # pragma: no cover - arrow said invalid


def _cp874_scan(path: Path) -> tuple[int | None, int, int]:
    """(line of the first byte cp874 cannot decode, UTF-8 Thai lead pairs, high bytes):
    asked only when the file is not valid UTF-8."""
    newlines = utf8_thai = high = 0
    error = None
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            high += len(chunk) - len(chunk.translate(None, _HIGH_BYTES))
            utf8_thai += chunk.count(b"\xe0\xb8") + chunk.count(b"\xe0\xb9")
            if error is None:
                try:
                    chunk.decode("cp874")
                except UnicodeDecodeError as exc:
                    error = _line_of(newlines, chunk, exc.start)
            newlines += chunk.count(b"\n")
    return error, utf8_thai, high


def _csv_header(src: SourceFile, limits: Limits) -> list[str]:
    """The header record (the Python csv module, as :func:`_check_csv_structure` reads it)."""
    previous_limit = csv.field_size_limit(limits.max_field_chars)
    try:
        with open(src.path, encoding=src.encoding, newline="") as text:
            header = next(csv.reader(text))
    except StopIteration:
        raise InvalidInput("ไฟล์ไม่มีหัวตาราง / the file has no header row",
                           file=src.name) from None
    except csv.Error as exc:
        raise InvalidInput(f"โครงสร้าง CSV เสียหาย / malformed CSV: {exc}",
                           file=src.name, row=1) from None
    finally:
        csv.field_size_limit(previous_limit)
    if len(header) > limits.max_columns:
        raise InvalidInput(f"มีคอลัมน์มากเกินไป / too many columns ({len(header):,} > "
                           f"{limits.max_columns:,})", file=src.name, row=1)
    return header


def _mostly_binary(chunk: bytes) -> bool:
    sample = chunk[:65536]
    return len(sample) - len(sample.translate(None, _CONTROL)) > max(8, len(sample) // 100)


class _Tee:
    """Iterate lines of a text stream, copying each one to ``out`` (UTF-8 transcoding)."""

    def __init__(self, lines: io.TextIOBase, out: io.TextIOBase | None) -> None:
        self.lines, self.out = lines, out

    def __iter__(self) -> Iterator[str]:
        for line in self.lines:
            if self.out is not None:
                self.out.write(line)
            yield line


def _check_csv_structure(src: SourceFile, limits: Limits, work_dir: Path | None) -> None:
    """Every record has as many fields as the header, no field is gigantic; count records.

    A cp874 file is transcoded to a UTF-8 copy on the way (polars parses UTF-8 only).
    """
    previous_limit = csv.field_size_limit(limits.max_field_chars)
    out = None
    if src.encoding == "cp874":
        if work_dir is None:
            raise ValueError("a work_dir is needed to transcode a TIS-620 file")
        src.utf8_path = Path(work_dir) / f".{src.sha256[:16]}.utf8.csv"
        out = open(src.utf8_path, "w", encoding="utf-8", newline="")
    try:
        with open(src.path, encoding=src.encoding, newline="") as text:
            reader = csv.reader(_Tee(text, out))  # type: ignore[arg-type]
            try:
                header = next(reader)
            except StopIteration:
                raise InvalidInput("ไฟล์ไม่มีหัวตาราง / the file has no header row",
                                   file=src.name) from None
            if len(header) > limits.max_columns:
                raise InvalidInput(f"มีคอลัมน์มากเกินไป / too many columns ({len(header):,} > "
                                   f"{limits.max_columns:,})", file=src.name, row=1)
            n = 0
            try:
                for n, rec in enumerate(reader, start=1):
                    if not rec:
                        src.blank_lines.append(n - 1 - len(src.blank_lines))
                        continue
                    if len(rec) != len(header):
                        raise InvalidInput(
                            f"จำนวนช่องไม่ตรงกับหัวตาราง / {len(rec)} fields where the header has "
                            f"{len(header)}", file=src.name, row=n + 1)
            except csv.Error as exc:
                raise InvalidInput(f"โครงสร้าง CSV เสียหาย / malformed CSV: {exc}",
                                   file=src.name, row=n + 2) from None
    finally:
        csv.field_size_limit(previous_limit)
        if out is not None:
            out.close()
    src.headers = header
    src.n_records = n - len(src.blank_lines)


def _longest_chars(arr: Any, limit: int) -> int:
    """Characters of the longest value of a string array (0 when empty or all null), or a
    bound of it not above ``limit``: the longest value in bytes, read from the offsets (a
    character is at least one byte), when that is within the limit."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(arr):
        return 0
    if arr.type == pa.string():
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[
            arr.offset:arr.offset + len(arr) + 1]
        longest_bytes = int((offsets[1:] - offsets[:-1]).max())
        if longest_bytes <= limit:
            return longest_bytes
    return pc.max(pc.utf8_length(arr)).as_py() or 0


def _csv_batches(src: SourceFile, chunk_rows: int,
                 limits: Limits = Limits()) -> Iterator[pl.DataFrame]:
    """Stream the CSV with pyarrow's block reader: memory is bounded by the block and the
    chunk, whatever the file size (polars' streaming scan reads far ahead of its consumer).

    When the structure was not checked at sniff time (``structure_pending``), a record with
    the wrong number of fields, a field above ``max_field_chars`` or a parser error makes
    the exact Python check run over the file: it raises the same message, file and row as
    ever (a file refused is slow to refuse; a good file is never read twice)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = src.utf8_path or src.path
    names = [f"c{i}" for i in range(len(src.headers))]
    blanks = np.asarray(src.blank_lines, dtype=np.int64)
    pending_check = src.structure_pending
    invalid: list[int | None] = []

    def invalid_row(row: Any) -> str:
        invalid.append(row.number)
        return "skip"

    def structure_error(row: int | None) -> InvalidInput:
        # the exact check raises the message the user would have had before
        _check_csv_structure(src, limits, None)
        return InvalidInput("โครงสร้าง CSV เสียหาย / malformed CSV (fields per record)",
                            file=src.name, row=row)

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=4 << 20,
                                       encoding="utf8"),
        parse_options=pacsv.ParseOptions(
            newlines_in_values=True,
            invalid_row_handler=invalid_row if pending_check else None),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, strings_can_be_null=True,
            quoted_strings_can_be_null=True, null_values=[""],
            check_utf8=False))  # validated at sniff time (a cp874 file is read as its copy)
    seen = 0
    pending: list[pa.RecordBatch] = []
    n_pending = 0

    def flush() -> pl.DataFrame:
        nonlocal seen, pending, n_pending
        frame = pl.from_arrow(pa.Table.from_batches(pending))
        assert isinstance(frame, pl.DataFrame)
        frame = frame.with_row_index("_row", offset=seen).with_columns(
            pl.col("_row").cast(pl.Int64))
        # spreadsheet row = record index + 2 (+ blank lines above it, which the parser skips)
        if len(blanks):
            frame = frame.with_columns(pl.col("_row") + 2 + pl.Series(
                np.searchsorted(blanks, frame["_row"].to_numpy(), side="right")))
        else:
            frame = frame.with_columns(pl.col("_row") + 2)
        seen += frame.height
        pending, n_pending = [], 0
        return frame.rename(dict(zip(names, src.headers, strict=True)))

    try:
        for batch in reader:
            if pending_check:
                if invalid:
                    raise structure_error(invalid[0])
                for arr in batch.columns:
                    if _longest_chars(arr, limits.max_field_chars) > limits.max_field_chars:
                        raise structure_error(seen + n_pending + 2)
            # frames of exactly chunk_rows rows (the last one fewer): the same batches
            # whatever the parser's block size
            while n_pending + batch.num_rows >= chunk_rows:
                take = chunk_rows - n_pending
                pending.append(batch.slice(0, take))
                n_pending += take
                batch = batch.slice(take)
                yield flush()
            if batch.num_rows:
                pending.append(batch)
                n_pending += batch.num_rows
        if invalid:
            raise structure_error(invalid[0])
        if pending:
            yield flush()
    except pa.ArrowException as exc:
        if pending_check:
            _check_csv_structure(src, limits, None)
        # arrow messages can quote data: name the class only
        raise InvalidInput(f"อ่าน CSV ไม่ได้ / CSV parser error ({type(exc).__name__})",
                           file=src.name, row=seen + n_pending + 2) from None
    finally:
        reader.close()
    if pending_check:
        src.n_records, src.structure_pending = seen, False
    if seen != src.n_records:
        raise InvalidInput(
            f"นับแถวไม่ตรงกัน / record count mismatch ({seen:,} parsed, {src.n_records:,} "
            "expected): check quoting", file=src.name)


# --------------------------------------------------------------------------------- XLSX


def _check_xlsx(src: SourceFile, limits: Limits) -> None:
    """Refuse zip bombs before openpyxl opens anything: member count, total and per-member
    uncompressed sizes and compression ratios come from the zip directory."""
    try:
        with zipfile.ZipFile(src.path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInput(f"ไฟล์ XLSX เสียหาย / damaged XLSX (zip): {exc}", file=src.name) from None
    if len(infos) > limits.max_zip_members:
        raise PayloadTooLarge(
            f"file {src.name}: XLSX มีไฟล์ภายในมากเกินไป / too many zip members ({len(infos):,})")
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        raise PayloadTooLarge(
            f"file {src.name}: XLSX ขยายแล้วใหญ่เกินไป / XLSX expands to {total / 2**20:,.0f} MiB (limit "
            f"{limits.max_uncompressed_bytes / 2**20:,.0f} MiB): possible zip bomb")
    for i in infos:
        ratio = i.file_size / max(i.compress_size, 1)
        if i.file_size > 1 << 20 and ratio > limits.max_compression_ratio:
            raise PayloadTooLarge(
                f"file {src.name}: XLSX บีบอัดผิดปกติ / member {i.filename!r} compresses {ratio:,.0f}:1 (limit "
                f"{limits.max_compression_ratio:,.0f}:1): possible zip bomb")
    for i in infos:
        # openpyxl keeps every shared string in memory, even read-only: bound that table
        if i.filename.endswith("sharedStrings.xml") and i.file_size > \
                limits.max_uncompressed_bytes // 4:
            raise PayloadTooLarge(
                f"file {src.name}: ตารางข้อความใน XLSX ใหญ่เกินไป / the shared-strings table "
                f"expands to {i.file_size / 2**20:,.0f} MiB (limit "
                f"{limits.max_uncompressed_bytes // 4 / 2**20:,.0f} MiB): save as CSV UTF-8")
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/worksheets/") for n in names):
        raise UnsupportedMedia(
            f"file {src.name}: ไฟล์ zip นี้ไม่ใช่ XLSX / this zip file is not an XLSX workbook")


def _cell_text(v: object) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    text = str(v).strip()
    return text or None


def _open_xlsx(src: SourceFile, limits: Limits):
    """Open the first sheet read-only (defusedxml parses the XML); return wb, rows, header."""
    import openpyxl
    from defusedxml.common import DefusedXmlException
    from openpyxl.xml import DEFUSEDXML

    if not DEFUSEDXML:  # pragma: no cover - defusedxml is a dependency
        raise RuntimeError("defusedxml must be installed to read XLSX safely")
    # a file object, not the path: openpyxl refuses paths whose extension is not .xlsx
    # (uploads are saved under neutral names); read_only keeps the handle until _close_xlsx(wb)
    fh = open(src.path, "rb")
    try:
        wb = openpyxl.load_workbook(fh, read_only=True, data_only=True)
    except DefusedXmlException as exc:
        fh.close()
        raise InvalidInput(f"XLSX มี XML อันตราย / unsafe XML refused ({type(exc).__name__})",
                           file=src.name) from None
    except Exception as exc:  # openpyxl raises many types for damaged files
        fh.close()
        if _defused_cause(exc):  # openpyxl wraps the defusedxml refusal in a ValueError
            raise InvalidInput(f"XLSX มี XML อันตราย / unsafe XML refused "
                               f"({_defused_cause(exc)})", file=src.name) from None
        raise InvalidInput(f"เปิดไฟล์ XLSX ไม่ได้ / cannot open XLSX ({type(exc).__name__})",
                           file=src.name) from None
    wb._chipao_fh = fh  # closed with the workbook (see _close_xlsx)
    try:
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True, max_col=limits.max_columns + 1)
        header_row = next(rows)
    except StopIteration:
        _close_xlsx(wb)
        raise InvalidInput("ไฟล์ไม่มีหัวตาราง / the sheet has no header row",
                           file=src.name) from None
    except DefusedXmlException as exc:
        _close_xlsx(wb)
        raise InvalidInput(f"XLSX มี XML อันตราย / unsafe XML refused ({type(exc).__name__})",
                           file=src.name) from None
    except Exception as exc:
        _close_xlsx(wb)
        raise InvalidInput(f"อ่านไฟล์ XLSX ไม่ได้ / cannot read XLSX ({type(exc).__name__})",
                           file=src.name) from None
    header = [_cell_text(h) or "" for h in header_row]
    while header and header[-1] == "":
        header.pop()
    if len(header) > limits.max_columns:
        _close_xlsx(wb)
        raise InvalidInput(f"มีคอลัมน์มากเกินไป / too many columns (> {limits.max_columns:,})",
                           file=src.name, row=1)
    return wb, rows, header


def _defused_cause(exc: BaseException) -> str | None:
    """Name of a defusedxml refusal anywhere in the exception chain, else None."""
    from defusedxml.common import DefusedXmlException

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DefusedXmlException):
            return type(seen).__name__
        seen = seen.__cause__ or seen.__context__
    return None


def _close_xlsx(wb) -> None:
    wb.close()
    fh = getattr(wb, "_chipao_fh", None)
    if fh is not None:
        fh.close()


def _xlsx_batches(src: SourceFile, chunk_rows: int, limits: Limits) -> Iterator[pl.DataFrame]:
    from defusedxml.common import DefusedXmlException

    wb, rows, header = _open_xlsx(src, limits)
    try:
        width = len(header)
        batch: list[list[str | None]] = []
        rowno = 1
        n = 0
        for rec in rows:
            rowno += 1
            vals = [_cell_text(v) for v in rec[:width]]
            if any(v is not None for v in rec[width:]):
                raise InvalidInput("มีข้อมูลนอกคอลัมน์ที่มีหัวตาราง / values beyond the last "
                                   "named column", file=src.name, row=rowno)
            for v in vals:
                if v is not None and len(v) > limits.max_field_chars:
                    raise InvalidInput(f"ช่องข้อมูลยาวเกินไป / a cell is longer than "
                                       f"{limits.max_field_chars:,} characters",
                                       file=src.name, row=rowno)
            vals += [None] * (width - len(vals))
            batch.append([str(rowno), *vals])
            n += 1
            if len(batch) >= chunk_rows:
                yield _rows_frame(batch, header)
                batch = []
        if batch:
            yield _rows_frame(batch, header)
        src.n_records = n
    except DefusedXmlException as exc:
        raise InvalidInput(f"XLSX มี XML อันตราย / unsafe XML refused ({type(exc).__name__})",
                           file=src.name) from None
    finally:
        _close_xlsx(wb)


def _rows_frame(batch: list[list[str | None]], header: list[str]) -> pl.DataFrame:
    cols = ["_row", *[f"c{i}" for i in range(len(header))]]
    frame = pl.DataFrame(batch, schema=dict.fromkeys(cols, pl.String), orient="row")
    frame = frame.with_columns(pl.col("_row").cast(pl.Int64))
    return frame.rename({f"c{i}": h for i, h in enumerate(header)})


# ------------------------------------------------------------------------------ Parquet


def _check_parquet(src: SourceFile, limits: Limits) -> None:
    """Bounds read from the footer only, before anything is decompressed: columns, rows,
    nesting (flat tables only) and the declared uncompressed size and compression ratio."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(src.path).metadata
        schema = meta.schema.to_arrow_schema()
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for damaged files
        raise InvalidInput(f"ไฟล์ Parquet เสียหาย / damaged Parquet ({type(exc).__name__})",
                           file=src.name) from None
    if len(schema) > limits.max_columns:
        raise InvalidInput(f"มีคอลัมน์มากเกินไป / too many columns ({len(schema):,})",
                           file=src.name)
    for f in schema:
        if pa.types.is_nested(f.type) or (pa.types.is_dictionary(f.type) and pa.types.is_nested(
                f.type.value_type)):
            raise InvalidInput(
                f"คอลัมน์ {f.name!r} เป็นข้อมูลซ้อน (list/struct/map) ต้องเป็นตารางแบน "
                f"/ column {f.name!r} is nested ({f.type}): a person table has one plain "
                "value per cell", file=src.name, column=str(f.name))
    if meta.num_rows > limits.max_rows:
        raise PayloadTooLarge(
            f"file {src.name}: มีแถวมากเกินไป ({meta.num_rows:,}) / too many rows "
            f"({meta.num_rows:,} > {limits.max_rows:,})")
    declared = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if declared > limits.max_uncompressed_bytes:
        raise PayloadTooLarge(
            f"file {src.name}: ขยายแล้วใหญ่เกินไป / uncompressed size "
            f"{declared / 2**20:,.0f} MiB is above "
            f"{limits.max_uncompressed_bytes / 2**20:,.0f} MiB: possible decompression bomb")
    if declared > 1 << 24 and declared > limits.max_compression_ratio * max(src.size_bytes, 1):
        raise PayloadTooLarge(
            f"file {src.name}: อัตราการบีบอัดสูงผิดปกติ / compression ratio "
            f"{declared / max(src.size_bytes, 1):,.0f}:1 is above "
            f"{limits.max_compression_ratio:,.0f}:1: possible decompression bomb")
    src.n_records = meta.num_rows
    src.headers = [str(f.name) for f in schema]


def _decoded_lengths(arr: Any) -> tuple[Any, Any]:
    """(column decoded to plain values, byte length of each value or None) without ever
    expanding a dictionary-encoded column before its size is known."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(arr.type):
        value = arr.type.value_type
        if pa.types.is_string(value) or pa.types.is_binary(value) or \
                pa.types.is_large_string(value) or pa.types.is_large_binary(value):
            lengths = pc.take(pc.binary_length(arr.dictionary), arr.indices)
            return arr, lengths
        return arr, None
    if pa.types.is_string(arr.type) or pa.types.is_binary(arr.type) or \
            pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type) or \
            pa.types.is_string_view(arr.type) or pa.types.is_binary_view(arr.type):
        return arr, pc.binary_length(arr)
    return arr, None


def _parquet_batches(src: SourceFile, chunk_rows: int,
                     limits: Limits = Limits()) -> Iterator[pl.DataFrame]:
    """Batches of string columns; text columns are read dictionary-encoded and measured
    before they are expanded: a field longer than ``max_field_chars`` -> 422, more decoded
    text than ``max_uncompressed_bytes`` -> 413 (a tiny file of one huge repeated value)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    first = 2
    decoded = 0
    try:
        schema = pq.read_schema(src.path)
        text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_binary(
            f.type) or pa.types.is_large_string(f.type) or pa.types.is_large_binary(f.type)]
        pf = pq.ParquetFile(src.path, read_dictionary=text)
        for rb in pf.iter_batches(batch_size=min(chunk_rows, 10_000)):
            columns = {}
            for name, arr in zip(rb.schema.names, rb.columns, strict=True):
                arr, lengths = _decoded_lengths(arr)
                if lengths is not None and len(arr):
                    longest = pc.max(lengths).as_py() or 0
                    if longest > limits.max_field_chars * 4:  # UTF-8: up to 4 bytes a char
                        raise InvalidInput(
                            f"ค่ายาวเกิน {limits.max_field_chars:,} ตัวอักษร / a value is longer "
                            f"than {limits.max_field_chars:,} characters (column {name!r})",
                            file=src.name, column=str(name), row=first)
                    decoded += int(pc.sum(lengths).as_py() or 0)
                else:
                    decoded += arr.nbytes
                if decoded > limits.max_uncompressed_bytes:
                    raise PayloadTooLarge(
                        f"file {src.name}: ขยายแล้วใหญ่เกินไป / decoded content is above "
                        f"{limits.max_uncompressed_bytes / 2**20:,.0f} MiB: possible "
                        "decompression bomb")
                if pa.types.is_dictionary(arr.type):
                    arr = arr.dictionary_decode()
                columns[name] = arr
            frame = pl.from_arrow(pa.table(columns))
            assert isinstance(frame, pl.DataFrame)
            frame = frame.select(
                [pl.col(c).cast(pl.String) for c in frame.columns]
            ).with_row_index("_row", offset=first).with_columns(pl.col("_row").cast(pl.Int64))
            first += frame.height
            yield frame
    except (InvalidInput, PayloadTooLarge):
        raise
    except Exception as exc:
        raise InvalidInput(f"อ่าน Parquet ไม่ได้ / cannot read Parquet ({type(exc).__name__})",
                           file=src.name, row=first) from None


# ------------------------------------------------------------------------------- public


def iter_batches(src: SourceFile, *, chunk_rows: int = 100_000,
                 limits: Limits = Limits()) -> Iterator[pl.DataFrame]:
    """Batches of string columns named by the source headers, plus ``_row`` (Int64)."""
    if src.format == "csv":
        yield from _csv_batches(src, chunk_rows, limits)
    elif src.format == "xlsx":
        yield from _xlsx_batches(src, chunk_rows, limits)
    elif src.format == "parquet":
        yield from _parquet_batches(src, chunk_rows, limits)
    else:  # pragma: no cover
        raise ValueError(src.format)
