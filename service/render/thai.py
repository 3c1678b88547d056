"""Dates and numbers as Thai readers expect them (pages, exports, reports).

* :func:`be_date` — Buddhist-era date with the Thai month abbreviation, ``1 ธ.ค. 2569``;
  :func:`be_datetime` adds the time in Bangkok, ``1 ธ.ค. 2569 18:30 น.``. Aware datetimes are
  shown in Asia/Bangkok (UTC+7, no daylight saving); naive ones are taken as UTC, as the
  catalog stores them.
* :func:`count`, :func:`percent`, :func:`ratio`, :func:`baht` — numbers rounded for people:
  counts with thousands separators, rates as % with 1 decimal, M0/H/A-style ratios with 3
  decimals, money in whole baht. A missing value (None, NaN) reads ``NO_DATA``.

No Flask here; the pages register these as Jinja filters (service.api.pages).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

BANGKOK = dt.timezone(dt.timedelta(hours=7), "ICT")
BE_OFFSET = 543
MONTHS_TH = ("ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.",
             "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.")
MONTHS_TH_FULL = ("มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
                  "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม")
NO_DATA = "ไม่มีข้อมูล · no data"


def _as_datetime(value: dt.date | dt.datetime | str) -> dt.date:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(BANGKOK)
    return value


def be_year(year: int) -> int:
    """Common-era year -> Buddhist-era year (2026 -> 2569)."""
    return int(year) + BE_OFFSET


def be_date(value: dt.date | dt.datetime | str | None, *, full: bool = False) -> str:
    """``1 ธ.ค. 2569`` (``full=True``: ``1 ธันวาคม 2569``); '' for None."""
    if value is None or value == "":
        return ""
    d = _as_datetime(value)
    months = MONTHS_TH_FULL if full else MONTHS_TH
    return f"{d.day} {months[d.month - 1]} {be_year(d.year)}"


def be_datetime(value: dt.datetime | str | None) -> str:
    """``1 ธ.ค. 2569 18:30 น.`` in Bangkok time; '' for None."""
    if value is None or value == "":
        return ""
    d = _as_datetime(value)
    if not isinstance(d, dt.datetime):
        return be_date(d)
    return f"{be_date(d)} {d:%H:%M} น."


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def count(value: Any, na: str = NO_DATA) -> str:
    """Whole number with thousands separators: ``19,450,652``."""
    return na if _missing(value) else f"{float(value):,.0f}"


def percent(value: Any, na: str = NO_DATA, *, signed: bool = False) -> str:
    """A proportion (0-1) as a percentage with one decimal: ``30.2 %``."""
    if _missing(value):
        return na
    return f"{float(value) * 100:{'+' if signed else ''},.1f} %"


def ratio(value: Any, na: str = NO_DATA, *, digits: int = 3) -> str:
    """An index such as M0 with three decimals: ``0.052``."""
    return na if _missing(value) else f"{float(value):.{digits}f}"


def baht(value: Any, na: str = NO_DATA) -> str:
    """Money in whole baht: ``20,000,000 บาท``."""
    return na if _missing(value) else f"{float(value):,.0f} บาท"


def number(value: Any, fmt: str, na: str = NO_DATA) -> str:
    """Format by name: ``count``, ``percent``, ``ratio``, ``baht``, ``score`` (1 decimal)."""
    if fmt == "percent":
        return percent(value, na)
    if fmt == "ratio":
        return ratio(value, na)
    if fmt == "baht":
        return baht(value, na)
    if fmt == "score":
        return na if _missing(value) else f"{float(value):.1f}"
    return count(value, na)
