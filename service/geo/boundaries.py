"""Thailand's admin hierarchy: province (TH10) > amphoe (TH1001) > tambon (TH100101).

Pure functions over the GeoParquet files in ``boundaries/`` (built by
boundaries/build_boundaries.py from OCHA COD-AB, CC BY 3.0 IGO). No Flask, no module state
other than an lru_cache keyed by the directory.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from service import vocabulary
from service.vocabulary import BOUNDARY_LEVELS, CODE_LENGTH, SUB_NATIONAL_LEVELS

log = logging.getLogger(__name__)

LEVELS = BOUNDARY_LEVELS
FILES = {"province": "provinces.parquet", "amphoe": "amphoes.parquet", "tambon": "tambons.parquet"}


def level_of(code: str) -> str:
    """Admin level of a code such as TH10 / TH1001 / TH100101 / TH10010101 (village)."""
    level = vocabulary.level_of(code)
    if level not in SUB_NATIONAL_LEVELS:
        raise ValueError(f"not a Thai admin code: {code!r}")
    return str(level)


def parent_code(code: str) -> str | None:
    """Parent in the hierarchy (village -> tambon -> amphoe -> province -> None)."""
    level = level_of(code)
    return {"province": None, "amphoe": code[:4], "tambon": code[:6], "village": code[:8]}[level]


def from_dopa(code: str | int) -> str:
    """DOPA/TPMAP digits (e.g. 110110) to a COD-AB code (TH110110).

    TH530306 in COD-AB is 530407 in DOPA's list.
    """
    digits = str(code).strip()
    if digits == "530407":
        digits = "530306"
    return "TH" + digits


@functools.lru_cache(maxsize=4)
def _read(directory: str, level: str) -> gpd.GeoDataFrame:
    path = Path(directory) / FILES[level]
    if not path.exists():
        raise FileNotFoundError(
            f"{path} missing: run python boundaries/build_boundaries.py to build it"
        )
    frame = gpd.read_parquet(path)
    return frame


def load_level(directory: str | Path, level: str) -> gpd.GeoDataFrame:
    """Boundaries of one level: code, name_th, name_en, parent codes, geometry (a copy)."""
    if level not in FILES:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    return _read(str(directory), level).copy()


@dataclass(frozen=True)
class Hierarchy:
    """Lookup tables of the admin hierarchy (no geometry)."""

    provinces: pd.DataFrame
    amphoes: pd.DataFrame
    tambons: pd.DataFrame

    def counts(self) -> dict[str, int]:
        return {
            "provinces": len(self.provinces),
            "amphoes": len(self.amphoes),
            "tambons": len(self.tambons),
        }

    def name(self, code: str, lang: str = "th") -> str:
        """Name of a province, amphoe or tambon (KeyError for a code not in the files)."""
        found = self._names.get(lang, {}).get(code)
        if found is not None:
            return found
        level = level_of(code)  # ValueError for a code that is not an admin code
        table = {"province": self.provinces, "amphoe": self.amphoes, "tambon": self.tambons}[level]
        return str(table.loc[code, f"name_{lang}"])

    @functools.cached_property
    def _names(self) -> dict[str, dict[str, str]]:
        """{lang: {code: name}}: a dict lookup (a DataFrame ``.loc`` per name took 0.2 ms,
        160 s for the tooltips of the national H3 r7 map)."""
        out: dict[str, dict[str, str]] = {}
        for lang in ("th", "en"):
            out[lang] = {}
            for table in (self.provinces, self.amphoes, self.tambons):
                column = f"name_{lang}"
                if column in table.columns:
                    out[lang].update(zip(table.index.astype(str),
                                         table[column].astype(str), strict=True))
        return out

    def children(self, code: str | None) -> list[str]:
        if code is None:
            return list(self.provinces.index)
        level = level_of(code)
        if level == "province":
            return list(self.amphoes.index[self.amphoes["province_code"] == code])
        if level == "amphoe":
            return list(self.tambons.index[self.tambons["amphoe_code"] == code])
        return []


@functools.lru_cache(maxsize=4)
def hierarchy(directory: str | Path) -> Hierarchy:
    frames = {
        level: load_level(directory, level).drop(columns="geometry").set_index("code")
        for level in LEVELS
    }
    h = Hierarchy(frames["province"], frames["amphoe"], frames["tambon"])
    problems = validate(directory)
    if problems:
        raise ValueError("boundary files are inconsistent: " + "; ".join(problems[:5]))
    return h


def validate(directory: str | Path) -> list[str]:
    """Return a list of problems (empty when the files are sound): geometry validity,
    unique codes, and that every tambon/amphoe nests in an existing parent."""
    problems: list[str] = []
    frames = {level: _read(str(directory), level) for level in LEVELS}
    for level, frame in frames.items():
        if frame["code"].duplicated().any():
            problems.append(f"{level}: duplicate codes")
        invalid = ~shapely.is_valid(frame.geometry.values)
        if invalid.any():
            problems.append(f"{level}: {int(invalid.sum())} invalid geometries")
        if frame.geometry.is_empty.any():
            problems.append(f"{level}: empty geometries")
        lengths = frame["code"].str.len()
        if (lengths != CODE_LENGTH[level]).any():
            problems.append(f"{level}: codes of the wrong length")
    prov = set(frames["province"]["code"])
    amph = set(frames["amphoe"]["code"])
    if not set(frames["amphoe"]["province_code"]) <= prov:
        problems.append("amphoe with unknown province")
    if not set(frames["tambon"]["amphoe_code"]) <= amph:
        problems.append("tambon with unknown amphoe")
    if not (frames["tambon"]["code"].str[:6] == frames["tambon"]["amphoe_code"]).all():
        problems.append("tambon code does not start with its amphoe code")
    return problems
