"""/api/v1/cells: H3 cells (resolutions 6-9) with the same access rules as areas.

A cell belongs, for access control, to the province of most of its households
(``province_code``, docs/CONTRACT.md §3). Cells are addressed by their hex id only.
"""

from __future__ import annotations

from flask import Blueprint, request

from service.api.areas import (
    _page,
    check_code,
    level_view,
    province_arg,
    require_scope,
    rows_where,
)
from service.api.auth import current_principal
from service.api.datasets import (
    cached_json,
    dataset_arg,
    records,
    request_key,
    resolve_version,
    version_arg,
)
from service.errors import InvalidInput, NotFound
from service.vocabulary import H3_RESOLUTIONS

bp = Blueprint("cells", __name__, url_prefix="/api/v1")


def _resolution() -> int:
    raw = request.args.get("resolution", "8")
    if raw not in {str(r) for r in H3_RESOLUTIONS}:
        raise InvalidInput(f"resolution must be one of {', '.join(map(str, H3_RESOLUTIONS))} "
                           f"/ ความละเอียด H3 ต้องเป็น 6-9", column="resolution")
    return int(raw)


@bp.get("/cells")
def list_cells():
    """H3 cells of one resolution, optionally of one province or inside one parent cell."""
    res = _resolution()
    level = f"h3_r{res}"
    dataset, version = dataset_arg(), version_arg()
    province = province_arg()
    parent = request.args.get("parent") or None
    if parent:
        if res == H3_RESOLUTIONS[0]:
            raise InvalidInput("resolution 6 cells have no parent here "
                               "/ เซลล์ความละเอียด 6 ไม่มีเซลล์แม่", column="parent")
        check_code(f"h3_r{res - 1}", parent)
    require_scope(level, bool(province or parent))
    v = resolve_version(dataset, version)

    def build() -> dict:
        principal = current_principal()
        if province is None and parent:
            frame = rows_where(dataset, v.id, level, principal, "parent_code", parent)
        else:
            frame = level_view(dataset, v.id, level, principal, province)
        if province:
            frame = frame[frame["province_code"] == province]
        if parent:
            frame = frame[frame["parent_code"] == parent]
        frame = published_cells(frame)  # no code of a suppressed cell (SEC)
        page, meta = _page(frame)
        return {"dataset": dataset, "version": v.id, "resolution": res, **meta,
                "items": records(page)}

    return cached_json(request_key(dataset, v.id), build)


def published_cells(frame):
    """Cells as the public may list them: suppressed cells left out entirely (no code, no
    figure, no reason), so which fine cells hold 1-9 households stays unknown (SEC)."""
    if "suppressed" not in frame:
        return frame
    return frame[~frame["suppressed"].fillna(False).astype(bool)]


def covered(dataset: str, version: str, res: int, principal, frame, province: str | None):
    """A public H3 layer for drawing: :func:`published_cells` with the published coarser
    cells beneath (``cover_resolution``; fine rows: null), from
    :func:`service.analysis.disclosure.cover_with_parents` (spatial exports)."""
    import h3
    import pandas as pd

    from service.analysis.disclosure import cover_with_parents

    sup = frame["suppressed"].fillna(False).astype(bool) if "suppressed" in frame else None
    if sup is None or not sup.any():
        return frame
    parents = {}
    codes_all = list(frame["code"].astype(str))
    for r in range(res - 1, H3_RESOLUTIONS[0] - 1, -1):
        level = f"h3_r{r}"
        wanted = sorted({h3.cell_to_parent(c, r) for c in codes_all})
        try:
            if province:
                rows = level_view(dataset, version, level, principal, province)
                rows = rows[rows["code"].isin(wanted)]
            else:
                rows = pd.concat([rows_where(dataset, version, level, principal, "code", c)
                                  for c in wanted], ignore_index=True)
        except NotFound:
            continue
        parents[level] = rows
    covers = cover_with_parents(frame, parents, resolution=res)
    return pd.concat([covers, published_cells(frame)], ignore_index=True, sort=False)


@bp.get("/cells/<cell>")
def get_cell(cell: str):
    """One H3 cell with its parent id and its children (one resolution finer)."""
    import h3

    cell = cell.lower()
    if not (len(cell) == 15 and h3.is_valid_cell(cell)):
        raise NotFound(f"{cell!r} is not an H3 cell id / ไม่ใช่รหัสเซลล์ H3")
    res = h3.get_resolution(cell)
    if res not in H3_RESOLUTIONS:
        raise NotFound(f"cells are stored at resolutions 6-9, not {res} "
                       "/ มีเซลล์ H3 ความละเอียด 6-9 เท่านั้น")
    dataset, version = dataset_arg(), version_arg()
    v = resolve_version(dataset, version)
    principal = current_principal()

    def build() -> dict:
        # a suppressed cell answers as an empty one: its code tells nothing (SEC)
        row = published_cells(rows_where(dataset, v.id, f"h3_r{res}", principal, "code", cell))
        if row.empty:
            raise NotFound(f"no households in cell {cell} / ไม่มีครัวเรือนในเซลล์ {cell}")
        children: list[dict] = []
        if res < H3_RESOLUTIONS[-1]:
            try:
                children = records(published_cells(rows_where(
                    dataset, v.id, f"h3_r{res + 1}", principal, "parent_code", cell)))
            except NotFound:
                children = []
        return {"dataset": dataset, "version": v.id, "resolution": res,
                "parent": h3.cell_to_parent(cell, res - 1) if res > H3_RESOLUTIONS[0]
                else None,
                "cell": records(row.iloc[:1])[0], "children": children}

    return cached_json(request_key(dataset, v.id), build)
