"""Build the compact boundary files in this folder from the OCHA COD-AB shapefiles.

Usage: python boundaries/build_boundaries.py [SOURCE_DIR]
SOURCE_DIR defaults to ../shared/data/boundaries (tha_adm1.zip, tha_adm2.zip, tha_adm3.zip).
Output: provinces.parquet, amphoes.parquet, tambons.parquet (GeoParquet, EPSG:4326, zstd).
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import shapely

HERE = Path(__file__).resolve().parent
LEVELS = {1: "provinces", 2: "amphoes", 3: "tambons"}


def build(source: Path, out: Path = HERE) -> None:
    for n, name in LEVELS.items():
        # The shapefiles carry no .cpg: without utf-8 the Thai names come out garbled.
        src = gpd.read_file(f"zip://{source / f'tha_adm{n}.zip'}", encoding="utf-8")
        frame = gpd.GeoDataFrame(
            {
                "code": src[f"ADM{n}_PCODE"],
                "name_th": src[f"ADM{n}_TH"],
                "name_en": src[f"ADM{n}_EN"],
            },
            geometry=shapely.make_valid(src.geometry.values),
            crs="EPSG:4326",
        )
        if n >= 2:
            frame["province_code"] = src["ADM1_PCODE"]
        if n == 3:
            frame["amphoe_code"] = src["ADM2_PCODE"]
        # make_valid can return a GeometryCollection holding stray lines; keep polygons only.
        frame["geometry"] = frame.geometry.apply(_polygonal)
        frame = frame.sort_values("code").reset_index(drop=True)
        frame.to_parquet(out / f"{name}.parquet", compression="zstd", index=False)
        print(f"{name}: {len(frame)} features")


def _polygonal(geom):
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts)


if __name__ == "__main__":
    default = HERE.parent.parent / "shared" / "data" / "boundaries"
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
