"""`chipao demo-raster`: build the demo population GeoTIFF (see service/demo/raster.py)."""

from service.demo.raster import command

__all__ = ["command"]
