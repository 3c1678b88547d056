"""Small hand-made person tables in the canonical schema (docs/CONTRACT.md §1)."""

from __future__ import annotations

from typing import Any

import polars as pl

INDICATORS = ["ind1", "ind4", "ind5", "ind7", "ind8", "ind9", "ind10", "ind11", "ind15",
              "ind16", "ind17", "ind19", "ind20", "ind21", "ind22", "ind27", "ind28"]

DEFAULTS: dict[str, Any] = {
    "village_id": "TH10010101", "tambon_code": "TH100101", "amphoe_code": "TH1001",
    "province_code": "TH10", "lon": 100.5, "lat": 13.75, "age": 30, "sex": "M",
    "disabled": False, "chronic": False, "welfare_card_registered": False,
    "welfare_card": False, "elderly_allowance": False, "disability_allowance": False,
    "child_grant": False, "social_security": False, "informal_worker": False,
    "income_per_person_thb": 60000.0,
}
DTYPES = {"age": pl.Int16, "income_per_person_thb": pl.Float32,
          **dict.fromkeys(INDICATORS, pl.Int8)}


def persons(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows give hh_id and any overrides; ``deprived=[...]`` lists ind columns set to 1."""
    out = []
    for n, r in enumerate(rows):
        r = dict(r)
        deprived = set(r.pop("deprived", []))
        row = {"person_id": f"p{n:04d}", "hh_id": r.pop("hh_id", f"h{n:04d}"), **DEFAULTS}
        row.update({i: (1 if i in deprived else 0) for i in INDICATORS})
        row.update(r)
        out.append(row)
    return pl.DataFrame(out).with_columns(
        [pl.col(c).cast(t) for c, t in DTYPES.items()])
