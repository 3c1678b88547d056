"""Which persons an import has already accepted: the duplicate-person rule at national size.

A national file has ~38.6 M persons; keeping their ``person_id`` strings next to the file and
row of each (a polars frame joined with every batch) took ~2.3 GiB and a join per batch over
everything seen. :class:`SeenPersons` keeps 18 bytes a person in numpy arrays: two
independent 64/32-bit hashes of the ``person_id`` (96 bits: the chance that two different
persons of a national file look alike is ~10⁻¹⁴), the row and the file of the first
occurrence. The arrays are sorted runs in 64 buckets (by the top bits of the hash): a batch
is looked up with binary searches and added as a new run; runs of a bucket are merged when
the newest is as large as the one before, so merging costs O(n log n) in all and never more
than a bucket's size (~1/64 of the index) at once.
"""

from __future__ import annotations

import numpy as np
import polars as pl

_BUCKET_BITS = 6
_SHIFT = np.uint64(64 - _BUCKET_BITS)


class _Run:
    __slots__ = ("file", "k1", "k2", "row")

    def __init__(self, k1: np.ndarray, k2: np.ndarray, row: np.ndarray,
                 file: np.ndarray) -> None:
        self.k1, self.k2, self.row, self.file = k1, k2, row, file

    def __len__(self) -> int:
        return len(self.k1)


def _merge(a: _Run, b: _Run) -> _Run:
    k1 = np.concatenate([a.k1, b.k1])
    order = np.argsort(k1, kind="stable")
    return _Run(k1[order], np.concatenate([a.k2, b.k2])[order],
                np.concatenate([a.row, b.row])[order], np.concatenate([a.file, b.file])[order])


def person_keys(ids: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Two independent hashes (uint64, uint32) of each id."""
    frame = ids.to_frame("v").select(
        pl.col("v").hash(seed=0x9E3779B9).alias("a"),
        (pl.col("v").hash(seed=0x85EBCA6B) & 0xFFFFFFFF).cast(pl.UInt32).alias("b"))
    return frame["a"].to_numpy(), frame["b"].to_numpy()


class SeenPersons:
    """person_id -> (file, row) of its first accepted occurrence in this import."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self._buckets: list[list[_Run]] = [[] for _ in range(1 << _BUCKET_BITS)]
        self.n = 0

    def nbytes(self) -> int:
        return sum(r.k1.nbytes + r.k2.nbytes + r.row.nbytes + r.file.nbytes
                   for b in self._buckets for r in b)

    def lookup(self, k1: np.ndarray, k2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(file index, row) of each key seen before; file index -1 where never seen."""
        file = np.full(len(k1), -1, dtype=np.int32)
        row = np.zeros(len(k1), dtype=np.int64)
        if not self.n or not len(k1):
            return file, row
        bucket = (k1 >> _SHIFT).astype(np.intp)
        order = np.argsort(bucket, kind="stable")
        bounds = np.searchsorted(bucket[order], np.arange((1 << _BUCKET_BITS) + 1))
        for b, runs in enumerate(self._buckets):
            lo, hi = bounds[b], bounds[b + 1]
            if lo == hi or not runs:
                continue
            at = order[lo:hi]
            q1, q2 = k1[at], k2[at]
            for run in runs:
                i = np.minimum(np.searchsorted(run.k1, q1), len(run) - 1)
                hit = (run.k1[i] == q1) & (run.k2[i] == q2) & (file[at] < 0)
                if hit.any():
                    file[at[hit]] = run.file[i[hit]]
                    row[at[hit]] = run.row[i[hit]]
        return file, row

    def add(self, k1: np.ndarray, k2: np.ndarray, rows: np.ndarray, file: str) -> None:
        """Record new persons (keys not seen before, distinct among themselves)."""
        if not len(k1):
            return
        if not self.files or self.files[-1] != file:
            self.files.append(file)
        fidx = np.full(len(k1), len(self.files) - 1, dtype=np.uint16)
        order = np.lexsort((k1, k1 >> _SHIFT))
        k1, k2 = k1[order], k2[order]
        rows, fidx = np.asarray(rows, dtype=np.uint32)[order], fidx[order]
        bounds = np.searchsorted(k1 >> _SHIFT, np.arange((1 << _BUCKET_BITS) + 1,
                                                         dtype=np.uint64))
        for b, runs in enumerate(self._buckets):
            lo, hi = bounds[b], bounds[b + 1]
            if lo == hi:
                continue
            runs.append(_Run(k1[lo:hi].copy(), k2[lo:hi].copy(), rows[lo:hi].copy(),
                             fidx[lo:hi].copy()))
            while len(runs) > 1 and len(runs[-1]) * 2 >= len(runs[-2]):
                last = runs.pop()
                runs[-1] = _merge(runs[-1], last)
        self.n += len(k1)
