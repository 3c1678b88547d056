"""Shared helpers of the follow-up tests: scored demo persons of one amphoe, a case store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl


@dataclass(frozen=True)
class Who:
    username: str | None = "officer1"
    role: str = "provincial"
    province: str | None = "TH75"


def scored(persons_dir: Path) -> pl.DataFrame:
    from service.analysis.coverage import load_programmes
    from service.analysis.mpi import score_persons
    from service.analysis.spec import load_spec

    raw = pl.concat([pl.read_parquet(f) for f in sorted((persons_dir / "persons").glob("*.parquet"))])
    return score_persons(raw, load_spec("tpmap"), load_programmes())


def write_csv(path: Path, header: list[str], rows: list[list[object]], *,
              encoding: str = "utf-8-sig") -> Path:
    import csv

    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path
