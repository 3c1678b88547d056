"""Export safety: spreadsheet formula neutralisation and server-made file names (RFC 6266).

A text cell that begins with ``= + - @``, TAB or CR is run as a formula by Excel, LibreOffice
or Google Sheets (CSV/formula injection, OWASP). Such text is prefixed with an apostrophe,
which spreadsheets show as a plain text marker; numbers are never touched, so a negative
number stays a number while the text ``-1+2`` becomes ``'-1+2``.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
from collections.abc import Iterable
from typing import Any

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|;,%]+')
_ASCII_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def neutralise(value: Any) -> Any:
    """Return ``value`` made inert in a spreadsheet; non-text values are returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text columns are neutralised (numeric columns untouched)."""
    out = frame.copy()
    for col in out.columns:
        series = out[col]
        if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
            if isinstance(series.dtype, pd.CategoricalDtype):
                series = series.astype(object)
            out[col] = series.map(neutralise, na_action="ignore")
    # column names are header cells too
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def _clean_unicode(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _UNSAFE_NAME.sub("_", text).strip(" ._")
    return re.sub(r"\s+", "_", text)


def make_filename(parts: Iterable[Any], extension: str) -> tuple[str, str]:
    """Server-made file name from ``parts``: (ASCII fallback, Unicode name).

    Thai parts survive in the Unicode name; the ASCII name keeps only their ASCII pieces.
    Path separators, quotes, control characters and leading dots never reach either name.
    """
    ext = _ASCII_SAFE.sub("", extension.lstrip(".")) or "bin"
    uni = [p for p in (_clean_unicode(str(x)) for x in parts if x not in (None, "")) if p]
    asc = [p for p in (_ASCII_SAFE.sub("_", u).strip("._") for u in uni) if p]
    unicode_name = "_".join(uni)[:150] or "chipao"
    ascii_name = "_".join(asc)[:150] or "chipao"
    return f"{ascii_name}.{ext}", f"{unicode_name}.{ext}"


def content_disposition(ascii_name: str, unicode_name: str | None = None) -> str:
    """``Content-Disposition: attachment`` with an RFC 6266 / RFC 5987 ``filename*``."""
    value = f'attachment; filename="{ascii_name}"'
    if unicode_name and unicode_name != ascii_name:
        value += "; filename*=UTF-8''" + urllib.parse.quote(unicode_name, safe="")
    return value
