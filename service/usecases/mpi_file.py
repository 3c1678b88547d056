"""Alkire-Foster MPI, the TPMAP union rule and programme coverage of one person file
(``chipao mpi``): read the file, load the specification and programmes, score. Plain values
in, the summary (service.analysis.mpi.summarize) out; no click."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from service.errors import InvalidInput


def read_persons(path: str) -> pl.LazyFrame:
    """CSV (UTF-8, with or without BOM) or Parquet person file as a LazyFrame."""
    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if suffix == ".parquet":
            lazy = pl.scan_parquet(p)
            lazy.collect_schema()
            return lazy
        if suffix in (".csv", ".txt"):
            # ids stay text; everything else inferred from the whole file
            frame = pl.read_csv(p, infer_schema_length=None, encoding="utf8",
                                schema_overrides={"person_id": pl.String, "hh_id": pl.String,
                                                  "village_id": pl.String})
            if frame.columns and frame.columns[0].startswith("\ufeff"):
                frame = frame.rename({frame.columns[0]: frame.columns[0].lstrip("\ufeff")})
            return frame.lazy()
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"อ่านไฟล์ไม่ได้ / cannot read the file: {exc}", file=str(p)) from exc
    raise InvalidInput("รองรับเฉพาะ .csv และ .parquet / only .csv and .parquet are supported",
                       file=str(p))


def score_file(spec_name: str, input_path: str, *, by: str | None = None,
               k_values: list[float] | None = None, weight: str | None = None,
               programmes: str = "default", union_dims: str | None = None,
               no_card: bool = False) -> dict[str, Any]:
    """The MPI summary of the person file ``input_path`` under the specification
    ``spec_name`` (preset or file); ``programmes`` 'default' = the shipped preset, 'none' =
    no coverage, else a file. A computation the columns do not allow (e.g. a rule comparing
    a text column with a number) is an :class:`InvalidInput` naming the file."""
    from service.analysis.coverage import load_programmes
    from service.analysis.mpi import summarize
    from service.analysis.spec import load_spec

    try:
        spec = load_spec(spec_name)
        if union_dims is not None or no_card:
            dims = [d.strip() for d in union_dims.split(",")] if union_dims else None
            spec = spec.with_union(dims, None if no_card else True)
        progs = (None if programmes == "none"
                 else load_programmes(None if programmes == "default" else programmes))
        frame = read_persons(input_path)
        return summarize(frame, spec, progs, by=by, k_values=k_values, weight=weight,
                         file=input_path)
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(f"คำนวณไม่ได้ / cannot compute with these columns: {first}",
                           file=input_path) from exc
