"""Map measure catalogue: measure id -> Thai/English label, unit, format, colour scheme.

The catalogue is data (maps/measures.json); this module expands its templates
(``dep_{ind}`` over the 17 BMN indicators, ``cov_{p}`` over the programmes, ...) and computes a
measure for an area table. Ratios are computed from summed counts (docs/CONTRACT.md §3), never
averaged, so a measure is ``num / den`` of two count columns, or one column.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from service import vocabulary


def _maps_dir() -> Path:
    """maps/ of the checkout (editable install), else the copy installed in the wheel."""
    checkout = Path(__file__).resolve().parent.parent.parent / "maps"
    if (checkout / "measures.json").exists():
        return checkout
    return Path(__file__).resolve().parent.parent / "_data" / "maps"


MAPS_DIR = _maps_dir()
FORMATS = ("percent", "ratio", "count", "rank")
GROUPS = tuple(vocabulary.GROUPS)
#: the lists measure templates are expanded over (``"for": ...``): item -> (th, en)
LISTS: dict[str, dict[str, tuple[str, str]]] = {
    "indicators": {ind[len("ind"):]: tuple(label)  # type: ignore[misc]
                   for ind, label in vocabulary.INDICATORS.items()},
    "dimensions": {k: tuple(v) for k, v in vocabulary.DIMENSIONS.items()},  # type: ignore[misc]
    "programmes": {k: tuple(v) for k, v in vocabulary.PROGRAMMES.items()},  # type: ignore[misc]
    "masks": {k: tuple(v) for k, v in vocabulary.DIMENSION_MASKS.items()},  # type: ignore[misc]
}


class MissingColumns(ValueError):
    """The area table has not the columns a measure needs (not computed for this dataset)."""


@dataclass(frozen=True)
class Measure:
    id: str
    th: str
    en: str
    format: str
    unit_th: str
    unit_en: str
    scheme: str
    worse: str  # "high" or "low"
    column: str | None = None
    num: str | None = None
    den: str | None = None
    grouped: bool = False
    family: str = "poverty"
    family_th: str = ""
    family_en: str = ""

    def columns(self, group: str | None = None) -> tuple[str, ...]:
        """Count columns this measure reads (for a target group when given)."""
        if self.column:
            return (self._grp(self.column, group),)
        assert self.num and self.den
        return (self._grp(self.num, group), self._grp(self.den, group))

    def _grp(self, column: str, group: str | None) -> str:
        if group is None:
            return column
        if not self.grouped:
            raise ValueError(f"measure {self.id!r} has no target-group breakdown")
        # n_persons -> n_<grp>; n_poor -> n_poor_<grp>; sum_c_poor -> sum_c_poor_<grp>
        if column in ("n_persons", "n_scored"):
            return f"n_{group}"
        return f"{column}_{group}"

    def label(self, lang: str) -> str:
        return self.th if lang == "th" else self.en

    def to_json(self) -> dict:
        return {
            "id": self.id, "th": self.th, "en": self.en, "format": self.format,
            "unit_th": self.unit_th, "unit_en": self.unit_en, "worse": self.worse,
            "grouped": self.grouped, "family": self.family,
            "family_th": self.family_th, "family_en": self.family_en,
        }


@dataclass(frozen=True)
class Catalogue:
    measures: dict[str, Measure]
    default: str
    groups: dict[str, tuple[str, str]]

    def get(self, measure_id: str) -> Measure:
        try:
            return self.measures[measure_id]
        except KeyError:
            raise ValueError(
                f"unknown measure {measure_id!r}; one of: {', '.join(sorted(self.measures))}"
            ) from None


def _expand(entry: dict, lists: dict[str, dict[str, tuple[str, str]]]) -> list[dict]:
    family = entry.get("for")
    if not family:
        return [entry]
    key = {"indicators": "ind", "dimensions": "dim", "programmes": "p", "masks": "mask"}[family]
    out = []
    for item, (th, en) in lists[family].items():
        values = {key: item, "th": th, "en": en}
        out.append({
            k: (v.format(**values) if isinstance(v, str) else v)
            for k, v in entry.items() if k != "for"
        })
    return out


def parse_catalogue(raw: dict) -> Catalogue:
    """Build a catalogue from the parsed measures.json, checking every entry."""
    declared = [k for k in (*LISTS, "groups") if raw.get(k)]
    if declared:
        raise ValueError(f"measures.json: {', '.join(declared)} are declared in "
                         "service/vocabulary.py, not in the catalogue")
    measures: dict[str, Measure] = {}
    families = raw.get("families", {})
    for i, entry in enumerate(raw["measures"]):
        for item in _expand(entry, LISTS):
            where = f"measures.json measures[{i}] ({item.get('id')!r})"
            if item.get("format") not in FORMATS:
                raise ValueError(f"{where}: format must be one of {FORMATS}")
            if bool(item.get("column")) == bool(item.get("num") and item.get("den")):
                raise ValueError(f"{where}: give either 'column' or both 'num' and 'den'")
            if item["id"] in measures:
                raise ValueError(f"{where}: duplicate measure id")
            family = item.get("family", "poverty")
            if families and family not in families:
                raise ValueError(f"{where}: family must be one of {', '.join(families)}")
            fam_th, fam_en = families.get(family, ("", ""))
            measures[item["id"]] = Measure(
                id=item["id"], th=item["th"], en=item["en"], format=item["format"],
                unit_th=item["unit_th"], unit_en=item["unit_en"], scheme=item["scheme"],
                worse=item.get("worse", "high"), column=item.get("column"),
                num=item.get("num"), den=item.get("den"), grouped=bool(item.get("grouped")),
                family=family, family_th=fam_th, family_en=fam_en,
            )
    if raw["default"] not in measures:
        raise ValueError(f"measures.json: default measure {raw['default']!r} is not defined")
    groups = {k: (v.th, v.en) for k, v in vocabulary.GROUPS.items()}
    return Catalogue(measures, raw["default"], groups)


@functools.lru_cache(maxsize=2)
def load_catalogue(path: str | None = None) -> Catalogue:
    file = Path(path) if path else MAPS_DIR / "measures.json"
    return parse_catalogue(json.loads(file.read_text(encoding="utf-8")))


def compute(frame: pd.DataFrame, measure: Measure, *, group: str | None = None) -> pd.Series:
    """Measure per row of an area table; NaN where a column is missing/null or den is 0.

    Ratios are num/den of the summed counts. ``percent`` measures are returned as fractions
    (0-1); formatting multiplies by 100.
    """
    # H and M0 divide by the persons scored (n_scored: persons dropped for missing indicator
    # values are not in the denominator, docs/mpi.md); tables without it scored everyone.
    cols = tuple("n_persons" if c == "n_scored" and c not in frame.columns else c
                 for c in measure.columns(group))
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise MissingColumns(
            f"measure {measure.id!r} needs column(s) {', '.join(missing)} in the area table"
        )
    if len(cols) == 1:
        return pd.to_numeric(frame[cols[0]], errors="coerce").astype("float64")
    num = pd.to_numeric(frame[cols[0]], errors="coerce").astype("float64")
    den = pd.to_numeric(frame[cols[1]], errors="coerce").astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den.where(den > 0)
    return out


def format_value(value: float | None, fmt: str, lang: str = "en", *, signed: bool = False) -> str:
    """Numbers for people: 12.3 %, 0.123, 1,234, 'no data' / 'ไม่มีข้อมูล'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "ไม่มีข้อมูล" if lang == "th" else "no data"
    sign = "+" if signed else ""
    if fmt == "percent":
        return f"{value * 100:{sign},.1f}%"
    if fmt == "ratio":
        return f"{value:{sign}.3f}"
    return f"{value:{sign},.0f}"
