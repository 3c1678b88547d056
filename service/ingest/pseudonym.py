"""Keyed pseudonyms for national IDs, house numbers and names (HMAC-SHA256).

The key comes from the ``pseudonym_key`` setting and is never written next to the data. The
same key and the same identifier always give the same pseudonym, so a province holding its
own source file can map a pseudonym back to a person for a home visit (see docs/ingest.md,
"Re-identification") while the store, the logs and every export hold pseudonyms only.

Each kind of identifier is hashed in its own domain (``pid:``, ``hh:``, ``name:``) so a house
number can never collide with a national ID.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import polars as pl

from service.errors import InvalidInput

#: hex characters kept from the HMAC digest (96 bits: no collisions at national scale).
PSEUDONYM_CHARS = 24

_SEPARATORS = re.compile(r"[\s\-.]")


class Pseudonymiser:
    """HMAC-SHA256 pseudonyms under one key. The key itself is not kept as an attribute.

    HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)) (RFC 2104) computed with two one-shot
    ``hashlib.sha256`` calls per value: the same digest as ``hmac.new(K, m, "sha256")``
    (tests/test_ingest_fast.py) at about a third of the cost of copying an hmac object.
    """

    def __init__(self, key: str) -> None:
        if not key:
            raise InvalidInput(
                "ไม่ได้ตั้งค่า CHIPAO_PSEUDONYM_KEY จึงนำเข้าเลขประจำตัวประชาชนหรือชื่อไม่ได้ / "
                "the file holds national IDs or names but CHIPAO_PSEUDONYM_KEY is empty: set "
                "the pseudonymisation key (kept outside the data directory) and retry"
            )
        raw = key.encode("utf-8")
        if len(raw) > _BLOCK:
            raw = hashlib.sha256(raw).digest()
        raw = raw.ljust(_BLOCK, b"\0")
        self._pads = (bytes(b ^ 0x36 for b in raw), bytes(b ^ 0x5C for b in raw))

    def __repr__(self) -> str:  # never show key material
        return "Pseudonymiser(<key hidden>)"

    def __reduce__(self) -> Any:  # worker processes get the derived pads, not the key
        return (_from_pads, self._pads)

    def pads(self) -> tuple[bytes, bytes]:
        """The derived inner and outer pads (what a worker process needs, not the key)."""
        return self._pads

    def one(self, domain: str, value: str) -> str:
        return str(self.hash_bytes([f"{domain}:{value}".encode()])[0])

    def hash_bytes(self, messages: Iterable[bytes | None]) -> list[str | None]:
        """Pseudonyms (24 hex characters) of already prefixed UTF-8 messages (None stays)."""
        inner, outer = self._pads
        sha = hashlib.sha256
        return [None if m is None else
                sha(outer + sha(inner + m).digest()).hexdigest()[:PSEUDONYM_CHARS]
                for m in messages]

    def many(self, domain: str, values: Iterable[str | None]) -> list[str | None]:
        prefix = f"{domain}:"
        return self.hash_bytes([None if v is None else (prefix + v).encode("utf-8")
                                for v in values])

    def series(self, domain: str, s: pl.Series) -> pl.Series:
        """Pseudonyms of a string Series. Mostly repeated values (household members) are
        hashed once per distinct value; mostly distinct ones (persons) in place."""
        head = s.head(20_000).drop_nulls()
        if head.n_unique() * 2 > head.len():
            return pl.Series(s.name, self.hash_bytes(_messages(domain, s).to_list()),
                             dtype=pl.String)
        uniq = s.drop_nulls().unique()
        table = pl.DataFrame({"v": uniq, "h": pl.Series(
            self.hash_bytes(_messages(domain, uniq).to_list()), dtype=pl.String)})
        return (s.to_frame("v").join(table, on="v", how="left", maintain_order="left")["h"]
                .alias(s.name))


def _messages(domain: str, s: pl.Series) -> pl.Series:
    """``domain:value`` as UTF-8 bytes (null stays null)."""
    return s.to_frame("v").select((pl.lit(f"{domain}:") + pl.col("v")).cast(pl.Binary)
                                  ).to_series()


_BLOCK = 64  # SHA-256 block size


def _from_pads(inner: bytes, outer: bytes) -> Pseudonymiser:
    p = Pseudonymiser.__new__(Pseudonymiser)
    p._pads = (inner, outer)
    return p


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


#: weights of the first 12 digits of a national ID
_WEIGHTS = np.arange(13, 1, -1, dtype=np.int64)


def _check_digits(values: pl.Series) -> pl.Series:
    """The check-digit test of each value: numpy over the bytes of the ASCII 13-digit values
    (13 bytes each: a (n, 13) view, no string slices); the per-character formula for the
    rare values of 13 other Unicode digits (๑...), as before; False for anything else."""
    frame = values.to_frame("v").select(
        ascii13=pl.col("v").str.contains(r"^[0-9]{13}$").fill_null(False),
        digits13=pl.col("v").str.contains(r"^\d{13}$"))
    ascii13 = frame["ascii13"].to_numpy()
    out = np.zeros(len(values), dtype=bool)
    if ascii13.any():
        arr = values.filter(frame["ascii13"]).cast(pl.Binary).to_arrow()
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
        start = int(np.frombuffer(arr.buffers()[1], dtype=np.int64 if str(
            arr.type) == "large_binary" else np.int32)[arr.offset])
        d = data[start:start + 13 * len(arr)].reshape(-1, 13).astype(np.int64) - 48
        out[ascii13] = (11 - (d[:, :12] @ _WEIGHTS) % 11) % 10 == d[:, 12]
    # 13 digits: the test; otherwise False, or null for a null value (as the formula gives)
    result = pl.Series(values.name, out).zip_with(frame["digits13"].fill_null(False),
                                                  frame["digits13"])
    other = frame["digits13"].fill_null(False).to_numpy() & ~ascii13
    if other.any():
        idx = np.flatnonzero(other)
        slow = values.gather(idx).to_frame("v").select(_formula("v")).to_series()
        result = result.scatter(idx, slow)
    return result.alias(values.name)


def _formula(col: str) -> pl.Expr:
    c = pl.col(col)
    weighted = pl.sum_horizontal(
        [c.str.slice(i, 1).cast(pl.Int32, strict=False) * (13 - i) for i in range(12)]
    )
    check = (11 - weighted % 11) % 10
    return c.str.contains(r"^\d{13}$") & (check == c.str.slice(12, 1).cast(pl.Int32, strict=False))


def national_id_check_expr(col: str) -> pl.Expr:
    """Vectorised check-digit test of a column of 13-digit strings (True = valid)."""
    return pl.col(col).map_batches(_check_digits, return_dtype=pl.Boolean)
