"""/api/v1/cells: H3 cells (resolutions 6-9) with the same access rules as areas.

A cell belongs, for access control, to the province of most of its households
(``province_code``, docs/CONTRACT.md §3). Cells are addressed by their hex id only.
"""

from __future__ import annotations

from flask import Blueprint, request

from service.api import params
from service.api.areas import _page, province_arg, require_scope
from service.api.auth import current_principal
from service.api.datasets import (
    cached_json,
    dataset_arg,
    records,
    request_key,
    resolve_version,
    version_arg,
)
from service.api.services import services
from service.usecases import areas as areas_uc

bp = Blueprint("cells", __name__, url_prefix="/api/v1")




@bp.get("/cells")
def list_cells():
    """H3 cells of one resolution, optionally of one province or inside one parent cell."""
    res, parent = params.cells_of(request.args)
    level = f"h3_r{res}"
    dataset, version = dataset_arg(), version_arg()
    province = province_arg()
    require_scope(level, bool(province or parent))
    v = resolve_version(dataset, version)

    def build() -> dict:
        page, meta = _page(areas_uc.level_rows(services(), current_principal(), dataset, v.id,
                                               level, province=province, parent=parent))
        return {"dataset": dataset, "version": v.id, "resolution": res, **meta,
                "items": records(page)}

    return cached_json(request_key(dataset, v.id), build)


@bp.get("/cells/<cell>")
def get_cell(cell: str):
    """One H3 cell with its parent id and its children (one resolution finer)."""
    cell, res = areas_uc.check_cell(cell)
    dataset = dataset_arg()
    v, principal = resolve_version(dataset, version_arg()), current_principal()

    def build() -> dict:
        row, parent, children = areas_uc.cell_with_children(services(), principal, dataset,
                                                            v.id, cell, res)
        return {"dataset": dataset, "version": v.id, "resolution": res, "parent": parent,
                "cell": records(row)[0], "children": records(children)}

    return cached_json(request_key(dataset, v.id), build)
