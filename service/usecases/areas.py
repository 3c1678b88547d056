"""Area statistics as the principal may see them: a level (of one province or parent), one
area with its children, programme coverage, and KPI tracking across rounds.

Only precomputed geographies are addressable (a level name and a code, never a polygon).
Plain values in, plain values out; no Flask."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from service.access import views
from service.access.principal import Principal
from service.access.views import BIG_LEVELS
from service.errors import NotFound
from service.vocabulary import CHILD_LEVEL, H3_LEVELS, SUB_NATIONAL_LEVELS, province_of

if TYPE_CHECKING:
    from service.services import Services

#: KPI measures followed across rounds (those present in the area table)
KPI_MEASURES = ("n_households", "n_persons", "n_poor", "h", "a", "m0", "n_target_poor",
                "n_poor_households", "n_crossgen_households")


def level_rows(s: Services, p: Principal, dataset: str, version: str, level: str, *,
               province: str | None = None, parent: str | None = None) -> pd.DataFrame:
    """Rows of a level (of one province and/or children of one parent)."""
    if province is None and parent is not None:
        frame = rows_where(s, p, dataset, version, level, "parent_code", parent)
    else:
        frame = views.area_view(s.store, dataset, level, p, version=version,
                                province=province, min_households=s.min_households,
                                cache=s.views)
    if province:
        frame = frame[frame["province_code"] == province]
    if parent:
        frame = frame[frame["parent_code"] == parent]
    return views.listed_rows(frame, level)


def rows_where(s: Services, p: Principal, dataset: str, version: str, level: str,
               column: str, value: str) -> pd.DataFrame:
    """Rows of ``level`` whose ``column`` (``code`` or ``parent_code``) equals ``value``, as
    ``p`` may see them, reading only the provinces holding them: an admin code's province is
    its first four characters; for H3 cells the store finds them."""
    def view(province: str | None) -> pd.DataFrame:
        return views.area_view(s.store, dataset, level, p, version=version, province=province,
                               min_households=s.min_households, cache=s.views)

    if level in H3_LEVELS:
        provinces = s.store.area_provinces(dataset, level, version=version, column=column,
                                           value=value)
    else:
        head = province_of(value[:4] if value else None) if level in SUB_NATIONAL_LEVELS \
            else None
        if head is None and level in BIG_LEVELS:
            provinces = []
        elif head is None:
            frame = view(None)
            return frame[frame[column] == value]
        else:
            provinces = [head]
    if not provinces:
        return pd.DataFrame({"code": pd.Series(dtype=object),
                             column: pd.Series(dtype=object)})
    frame = pd.concat([view(prov) for prov in provinces], ignore_index=True, sort=False)
    return frame[frame[column] == value].sort_values("code", kind="stable")


def one_row(frame: pd.DataFrame, code: str, level: str) -> pd.DataFrame:
    row = frame[frame["code"] == code]
    if row.empty:
        raise NotFound(f"no {level} {code} in this dataset / ไม่พบพื้นที่ {code}")
    return row.iloc[:1]


def area_with_children(s: Services, p: Principal, dataset: str, version: str, level: str,
                       code: str) -> tuple[pd.DataFrame, str | None, pd.DataFrame]:
    """(the area's row, the children's level, the children one level down)."""
    area = one_row(rows_where(s, p, dataset, version, level, "code", code), code, level)
    child_level = CHILD_LEVEL.get(level)
    children = pd.DataFrame()
    if child_level is not None:
        try:
            children = rows_where(s, p, dataset, version, child_level, "parent_code", code)
        except NotFound:  # that level was not computed for this dataset
            children = pd.DataFrame()
    return area, child_level, children


def check_cell(cell: str) -> tuple[str, int]:
    """(the H3 cell id in lower case, its resolution); 404 unless a stored resolution."""
    import h3

    from service.vocabulary import H3_RESOLUTIONS

    cell = cell.lower()
    if not (len(cell) == 15 and h3.is_valid_cell(cell)):
        raise NotFound(f"{cell!r} is not an H3 cell id / ไม่ใช่รหัสเซลล์ H3")
    res = h3.get_resolution(cell)
    if res not in H3_RESOLUTIONS:
        raise NotFound(f"cells are stored at resolutions 6-9, not {res} "
                       "/ มีเซลล์ H3 ความละเอียด 6-9 เท่านั้น")
    return cell, res


def cell_with_children(s: Services, p: Principal, dataset: str, version: str, cell: str,
                       res: int) -> tuple[pd.DataFrame, str | None, pd.DataFrame]:
    """(the cell's row, its parent cell id, its children one resolution finer)."""
    import h3

    from service.vocabulary import H3_RESOLUTIONS

    # a suppressed cell answers as an empty one, and is no one's listed child (SEC)
    row = views.listed_rows(rows_where(s, p, dataset, version, f"h3_r{res}", "code", cell),
                            f"h3_r{res}")
    if row.empty:
        raise NotFound(f"no households in cell {cell} / ไม่มีครัวเรือนในเซลล์ {cell}")
    children = pd.DataFrame()
    if res < H3_RESOLUTIONS[-1]:
        try:
            children = views.listed_rows(rows_where(s, p, dataset, version, f"h3_r{res + 1}",
                                                    "parent_code", cell), f"h3_r{res + 1}")
        except NotFound:
            children = pd.DataFrame()
    parent = h3.cell_to_parent(cell, res - 1) if res > H3_RESOLUTIONS[0] else None
    return row.iloc[:1], parent, children


def programmes(columns: Any) -> list[str]:
    return sorted(c[len("n_elig_"):] for c in columns if str(c).startswith("n_elig_"))


def coverage(row: dict[str, Any]) -> list[dict[str, Any]]:
    """Welfare programme coverage and exclusion (ตกหล่น) of one area's record."""
    return [{"programme": pr, "n_eligible": row.get(f"n_elig_{pr}"),
             "n_covered": row.get(f"n_cov_{pr}"), "n_excluded": row.get(f"n_excl_{pr}"),
             "n_inclusion_error": row.get(f"n_incl_err_{pr}"), "coverage": row.get(f"cov_{pr}")}
            for pr in programmes(row)]


def kpi_series(s: Services, p: Principal, dataset: str, level: str, code: str,
               versions: list[Any], records: Any) -> dict[str, Any]:
    """The area's headline measures in every round (version), oldest first, their change
    from the first to the last round and the master-plan KPIs (``records`` turns frames
    into JSON-ready rows)."""
    from service.analysis.kpi import kpi_table

    series = []
    series_rows: list[tuple[int, pd.DataFrame]] = []
    for v in versions:
        try:
            row = rows_where(s, p, dataset, v.id, level, "code", code)
        except NotFound:
            continue
        if row.empty:
            continue
        series_rows.append((int(v.round), row.iloc[:1]))
        rec = records(row.iloc[:1])[0]
        point = {"version": v.id, "round": v.round, "view": rec.get("view")}
        for m in KPI_MEASURES:
            if m in rec:
                point[m] = rec[m]
        for pr in programmes(rec):
            point[f"cov_{pr}"] = rec.get(f"cov_{pr}")
        series.append(point)
    if not series:
        raise NotFound(f"no {level} {code} in dataset {dataset!r} / ไม่พบพื้นที่ {code}")
    return {"dataset": dataset, "level": level, "code": code, "series": series,
            "change": changes(series), "kpis": records(kpi_table(series_rows))}


def changes(series: list[dict]) -> dict[str, float | None]:
    """Change of each measure from the first to the last round (null when unknown)."""
    first, last = series[0], series[-1]
    out: dict[str, float | None] = {}
    for key, value in last.items():
        if key in ("version", "round", "view"):
            continue
        before = first.get(key)
        out[key] = (value - before) if isinstance(value, int | float) and \
            isinstance(before, int | float) else None
    return out
