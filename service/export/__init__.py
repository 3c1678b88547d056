"""File exports: the EXPORTERS registry (csv with BOM, xlsx, geojson, gpkg).

Each exporter turns a (Geo)DataFrame into bytes. Spreadsheet formats neutralise text cells that
a spreadsheet would run as a formula (see :mod:`service.export.safety`); numbers stay numbers.
File names are made by the server (:func:`service.export.safety.content_disposition`).
No Flask here: the API (service.api.exports) and the CLI (`chipao export`) share this code.
"""

from __future__ import annotations

from service.export.formats import EXPORTERS, Exporter, export_frame
from service.export.safety import content_disposition, make_filename, neutralise

__all__ = ["EXPORTERS", "Exporter", "content_disposition", "export_frame", "make_filename",
           "neutralise"]
