"""The exporters: DataFrame/GeoDataFrame -> bytes, one per format, in a plain dict registry."""

from __future__ import annotations

import datetime as dt
import io
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from service.errors import InvalidInput
from service.export.safety import neutralise, neutralise_frame


@dataclass(frozen=True)
class Exporter:
    name: str
    extension: str
    media_type: str
    spatial: bool  # needs geometry
    write: Callable[..., bytes]


def _without_geometry(frame: pd.DataFrame) -> pd.DataFrame:
    if isinstance(frame, gpd.GeoDataFrame):
        return pd.DataFrame(frame.drop(columns=frame.geometry.name))
    return frame


def to_csv(frame: pd.DataFrame, *, layer: str = "data") -> bytes:
    """UTF-8 with BOM (Excel then shows Thai correctly), formulas neutralised."""
    safe = neutralise_frame(_without_geometry(frame))
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def _xlsx_value(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)  # Excel has no time zones
    if isinstance(value, bytes | bytearray):
        value = value.hex()
    if isinstance(value, list | tuple | dict | set):
        value = str(value)
    return neutralise(value)


def to_xlsx(frame: pd.DataFrame, *, layer: str = "data") -> bytes:
    """One sheet, bold frozen header, numbers as numbers, text as text (never formulas)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    data = _without_geometry(frame)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=(layer or "data")[:31])
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for col in data.columns:
        cell = WriteOnlyCell(ws, value=str(neutralise(str(col))))
        cell.font = bold
        header.append(cell)
    ws.append(header)
    for row in data.itertuples(index=False, name=None):
        cells = []
        for value in row:
            v = _xlsx_value(value)
            cell = WriteOnlyCell(ws, value=v)
            if isinstance(v, str):
                cell.data_type = "s"  # belt and braces: never a formula
            cells.append(cell)
        ws.append(cells)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _as_geo(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    if isinstance(frame, gpd.GeoDataFrame):
        gdf = frame
    elif {"lon", "lat"} <= set(frame.columns):
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                               crs="EPSG:4326")
    else:
        raise InvalidInput("this export format needs geometry or lon/lat columns",
                           column="geometry")
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4326")
    elif not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs("EPSG:4326")
    return gdf


def _plain_columns(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = gdf.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            out[col] = s.astype(object)
        elif pd.api.types.is_unsigned_integer_dtype(s) and s.dtype.itemsize >= 8:
            out[col] = s.astype("int64") if (s < 2**63).all() else s.astype(str)
    return out


def to_geojson(frame: pd.DataFrame, *, layer: str = "data") -> bytes:
    """RFC 7946 FeatureCollection in WGS84."""
    gdf = _plain_columns(_as_geo(frame))
    return gdf.to_json(drop_id=True, ensure_ascii=False, na="null").encode("utf-8")


def to_gpkg(frame: pd.DataFrame, *, layer: str = "data") -> bytes:
    """OGC GeoPackage with one layer."""
    gdf = _plain_columns(_as_geo(frame))
    with tempfile.TemporaryDirectory(prefix="chipao-gpkg-") as tmp:
        path = Path(tmp) / "export.gpkg"
        gdf.to_file(path, driver="GPKG", layer=layer or "data", engine="pyogrio")
        return path.read_bytes()


#: format name -> exporter
EXPORTERS: dict[str, Exporter] = {
    "csv": Exporter("csv", "csv", "text/csv; charset=utf-8", False, to_csv),
    "xlsx": Exporter(
        "xlsx", "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", False, to_xlsx),
    "geojson": Exporter("geojson", "geojson", "application/geo+json", True, to_geojson),
    "gpkg": Exporter("gpkg", "gpkg", "application/geopackage+sqlite3", True, to_gpkg),
}


def export_frame(frame: pd.DataFrame, fmt: str, *, layer: str = "data") -> bytes:
    """Bytes of ``frame`` in format ``fmt`` (a key of :data:`EXPORTERS`)."""
    try:
        exporter = EXPORTERS[fmt]
    except KeyError:
        raise InvalidInput(f"unknown export format {fmt!r}; use one of "
                           f"{', '.join(EXPORTERS)}", column="format") from None
    return exporter.write(frame, layer=layer)
