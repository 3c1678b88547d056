"""Where map pages get area tables, rounds and village/H3 geometry from.

:class:`StoreSource` reads the versioned store (docs/CONTRACT.md §4). :class:`FrameSource`
serves in-memory frames of the same shape; tests and ``chipao bench maps`` use it so they need
no ingest run. Both are pure (no Flask).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import geopandas as gpd
import pandas as pd

from service.errors import NotFound


@dataclass(frozen=True)
class Round:
    id: str        # version id
    round: int
    label: str


class AreaSource(Protocol):
    def rounds(self, dataset: str) -> list[Round]:
        """Versions of a dataset, oldest first (empty when the dataset does not exist)."""

    def read_areas(self, dataset: str, level: str, *, version: str | None = None,
                   province: str | None = None, columns: Sequence[str] | None = None
                   ) -> pd.DataFrame: ...

    def area_columns(self, dataset: str, level: str, *, version: str | None = None
                     ) -> list[str]: ...

    def village_points(self, dataset: str, codes: Sequence[str], *,
                       version: str | None = None) -> gpd.GeoDataFrame: ...

    def read_persons(self, dataset: str, province: str, *, version: str | None = None
                     ) -> Any:
        """Scored persons of one province (polars), for re-counting at another cut-off k."""

    def spec_name(self, dataset: str, version: str | None = None) -> str:
        """Name (or path) of the indicator specification the version was scored with."""


def _label(round_no: int, when: str) -> str:
    return f"รอบ {round_no} · Round {round_no} ({when})"


def round_label(round_no: int, built: dt.datetime | dt.date | str | None) -> str:
    """``รอบ 2562 · Round 2562 (1 ธ.ค. 2569)``: the build date in the Buddhist era, as
    people read dates (service.render.thai.be_date)."""
    from service.render.thai import be_date

    when = be_date(built) if built else ""
    return _label(round_no, when) if when else f"รอบ {round_no} · Round {round_no}"


class StoreSource:
    """The app's one store (service.api.services.Services) seen as a map source."""

    def __init__(self, store: Any):
        self.store = store

    def rounds(self, dataset: str) -> list[Round]:
        try:
            versions = self.store.versions(dataset)
        except Exception:  # unknown dataset: the catalog raises NotFound
            return []
        # released versions only (one per round: superseded versions are never shown),
        # oldest round first
        out = [Round(v.id, int(v.round), round_label(int(v.round), v.created_at))
               for v in versions]
        return sorted(out, key=lambda r: r.round)

    def current_id(self, dataset: str) -> str | None:
        """The catalog's current version (what a map shows when no round is asked for)."""
        try:
            return self.store.current(dataset).id
        except Exception:  # unknown dataset or no ready version
            return None

    def read_areas(self, dataset: str, level: str, *, version: str | None = None,
                   province: str | None = None, columns: Sequence[str] | None = None
                   ) -> pd.DataFrame:
        return self.store.read_areas(dataset, level, version=version, province=province,
                                     columns=columns)

    def area_columns(self, dataset: str, level: str, *, version: str | None = None
                     ) -> list[str]:
        return self.store.area_columns(dataset, level, version=version)

    def read_partials(self, dataset: str, level: str, *, version: str | None = None,
                      province: str | None = None) -> pd.DataFrame | None:
        """Provinces' parts of border H3 cells (Store.read_partials; SEC)."""
        return self.store.read_partials(dataset, level, version=version, province=province)

    def border_codes(self, dataset: str, level: str, *, version: str | None = None,
                     province: str | None = None) -> set[str]:
        return self.store.border_codes(dataset, level, version=version, province=province)

    def village_points(self, dataset: str, codes: Sequence[str], *,
                       version: str | None = None) -> gpd.GeoDataFrame:
        return self.store.area_geometries("village", codes, dataset=dataset, version=version)

    def read_persons(self, dataset: str, province: str, *, version: str | None = None
                     ) -> Any:
        return self.store.read_persons(dataset, province, version=version)

    def spec_name(self, dataset: str, version: str | None = None) -> str:
        meta = self.store.version(dataset, version).meta or {}
        return str(meta.get("spec") or "tpmap")


@dataclass
class FrameSource:
    """In-memory source: ``tables[(dataset, version, level)] = frame``; versions in order."""

    tables: dict[tuple[str, str, str], pd.DataFrame] = field(default_factory=dict)
    versions: dict[str, list[str]] = field(default_factory=dict)

    def add(self, dataset: str, version: str, level: str, frame: pd.DataFrame) -> None:
        self.tables[(dataset, version, level)] = frame
        order = self.versions.setdefault(dataset, [])
        if version not in order:
            order.append(version)

    def rounds(self, dataset: str) -> list[Round]:
        return [Round(v, i + 1, _label(i + 1, v)) for i, v in
                enumerate(self.versions.get(dataset, []))]

    def read_areas(self, dataset: str, level: str, *, version: str | None = None,
                   province: str | None = None, columns: Sequence[str] | None = None
                   ) -> pd.DataFrame:
        frame = self._table(dataset, level, version)
        if province:
            frame = frame[frame["province_code"] == province]
        if columns is not None:
            frame = frame[list(columns)]
        return frame.copy()

    def area_columns(self, dataset: str, level: str, *, version: str | None = None
                     ) -> list[str]:
        return list(self._table(dataset, level, version).columns)

    def _table(self, dataset: str, level: str, version: str | None) -> pd.DataFrame:
        order = self.versions.get(dataset)
        if not order:
            raise NotFound(f"no dataset {dataset!r} / ไม่พบชุดข้อมูล {dataset!r}")
        version = version or order[-1]
        frame = self.tables.get((dataset, version, level))
        if frame is None:
            raise NotFound(f"level {level} was not computed for dataset {dataset!r} "
                           f"/ ไม่มีข้อมูลระดับ {level}")
        return frame

    def read_persons(self, dataset: str, province: str, *, version: str | None = None
                     ) -> Any:
        raise NotFound("this source holds area tables only, no scored persons "
                       "/ ไม่มีข้อมูลรายบุคคล")

    def spec_name(self, dataset: str, version: str | None = None) -> str:
        return "tpmap"

    def village_points(self, dataset: str, codes: Sequence[str], *,
                       version: str | None = None) -> gpd.GeoDataFrame:
        frame = self.read_areas(dataset, "village", version=version)
        frame = frame[frame["code"].isin(list(codes))].dropna(subset=["lon", "lat"])
        return gpd.GeoDataFrame(
            {"code": frame["code"].to_numpy()},
            geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326",
        )
