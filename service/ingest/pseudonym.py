"""Keyed pseudonyms for national IDs, house numbers and names (HMAC-SHA256).

The key comes from the ``pseudonym_key`` setting and is never written next to the data. The
same key and the same identifier always give the same pseudonym, so a province holding its
own source file can map a pseudonym back to a person for a home visit (see docs/ingest.md,
"Re-identification") while the store, the logs and every export hold pseudonyms only.

Each kind of identifier is hashed in its own domain (``pid:``, ``hh:``, ``name:``) so a house
number can never collide with a national ID.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable

import polars as pl

from service.errors import InvalidInput

#: hex characters kept from the HMAC digest (96 bits: no collisions at national scale).
PSEUDONYM_CHARS = 24

_SEPARATORS = re.compile(r"[\s\-.]")


class Pseudonymiser:
    """HMAC-SHA256 pseudonyms under one key. The key itself is not kept as an attribute."""

    def __init__(self, key: str) -> None:
        if not key:
            raise InvalidInput(
                "ไม่ได้ตั้งค่า CHIPAO_PSEUDONYM_KEY จึงนำเข้าเลขประจำตัวประชาชนหรือชื่อไม่ได้ / "
                "the file holds national IDs or names but CHIPAO_PSEUDONYM_KEY is empty: set "
                "the pseudonymisation key (kept outside the data directory) and retry"
            )
        # hmac objects are copied per value: the key schedule is computed once.
        self._base = hmac.new(key.encode("utf-8"), digestmod="sha256")

    def __repr__(self) -> str:  # never show key material
        return "Pseudonymiser(<key hidden>)"

    def one(self, domain: str, value: str) -> str:
        h = self._base.copy()
        h.update(f"{domain}:{value}".encode())
        return h.hexdigest()[:PSEUDONYM_CHARS]

    def many(self, domain: str, values: Iterable[str | None]) -> list[str | None]:
        out: list[str | None] = []
        base, prefix = self._base, f"{domain}:".encode()
        for v in values:
            if v is None:
                out.append(None)
                continue
            h = base.copy()
            h.update(prefix + v.encode("utf-8"))
            out.append(h.hexdigest()[:PSEUDONYM_CHARS])
        return out

    def series(self, domain: str, s: pl.Series) -> pl.Series:
        """Pseudonyms of a string Series; each distinct value is hashed once."""
        uniq = s.drop_nulls().unique()
        if uniq.len() * 2 > s.len():  # mostly distinct (persons): hash in place
            return pl.Series(s.name, self.many(domain, s.to_list()), dtype=pl.String)
        mapping = dict(zip(uniq.to_list(), self.many(domain, uniq.to_list()), strict=True))
        return s.replace_strict(mapping, default=None, return_dtype=pl.String).alias(s.name)


def person_pseudonym(key: str, national_id: str) -> str:
    """Pseudonym of one national ID (digits only; dashes and spaces are ignored)."""
    return Pseudonymiser(key).one("pid", _SEPARATORS.sub("", national_id))


def household_pseudonym(key: str, house_id: str) -> str:
    """Pseudonym of one house registration number (รหัสประจำบ้าน)."""
    return Pseudonymiser(key).one("hh", _SEPARATORS.sub("", house_id))


def name_key(first: str | None, last: str | None) -> str:
    """Normalised 'first|last' used to pseudonymise a person known only by name."""
    return f"{' '.join((first or '').split())}|{' '.join((last or '').split())}".casefold()


def national_id_check_digit(first12: str) -> int:
    """Check digit of a Thai national ID: (11 - Σ d_i·(14-i) mod 11) mod 10, i = 1..12."""
    total = sum(int(d) * (13 - i) for i, d in enumerate(first12))
    return (11 - total % 11) % 10


def is_valid_national_id(text: str) -> bool:
    digits = _SEPARATORS.sub("", text)
    return (len(digits) == 13 and digits.isascii() and digits.isdigit()
            and national_id_check_digit(digits[:12]) == int(digits[12]))


def national_id_check_expr(col: str) -> pl.Expr:
    """Vectorised check-digit test of a column of 13-digit strings (True = valid)."""
    c = pl.col(col)
    weighted = pl.sum_horizontal(
        [c.str.slice(i, 1).cast(pl.Int32, strict=False) * (13 - i) for i in range(12)]
    )
    check = (11 - weighted % 11) % 10
    return c.str.contains(r"^\d{13}$") & (check == c.str.slice(12, 1).cast(pl.Int32, strict=False))
