"""Place names for maps: the search index over every province, amphoe and tambon, and the
tambon(s) an H3 cell lies in (so a hexagon's tooltip says where it is).

Pure functions over the boundary files (no Flask); results are cached per boundaries
directory, and per list of cells.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import shapely

from service.geo import boundaries
from service.render import geometry

LEVEL_ORDER = ("province", "amphoe", "tambon")
#: at most this many tambons are named for one cell ("ต.ก, ต.ข และอีก 2 ตำบล")
MAX_NAMED = 3


def _prefix(level: str, lang: str) -> str:
    return {("province", "th"): "จ.", ("amphoe", "th"): "อ.", ("tambon", "th"): "ต."}.get(
        (level, lang), "")


def _source_key(boundaries_dir: str) -> str:
    return "|".join(geometry.source_version(boundaries_dir, lv) for lv in LEVEL_ORDER)


@functools.lru_cache(maxsize=4)
def _search_index(boundaries_dir: str, _version: str) -> bytes:
    h = boundaries.hierarchy(boundaries_dir)
    rows: list[list] = []
    for level in LEVEL_ORDER:
        frame = geometry.simplified_level(boundaries_dir, level,
                                          geometry.tolerance_for(level, None))
        b = shapely.bounds(np.asarray(frame.geometry.values))
        for code, (w, s, e, n) in zip(frame["code"], b.tolist(), strict=True):
            parent = boundaries.parent_code(code)
            in_th = in_en = ""
            if parent:
                in_th = " ".join(f"{_prefix(boundaries.level_of(c), 'th')}{h.name(c, 'th')}"
                                 for c in _chain(parent))
                in_en = ", ".join(h.name(c, "en") for c in _chain(parent))
            rows.append([code, h.name(code, "th"), h.name(code, "en"), in_th, in_en,
                         round(s, 3), round(w, 3), round(n, 3), round(e, 3)])
    return json.dumps({"fields": ["code", "th", "en", "in_th", "in_en", "s", "w", "n", "e"],
                       "places": rows}, ensure_ascii=False, separators=(",", ":")).encode()


def _chain(code: str) -> list[str]:
    out = []
    c: str | None = code
    while c:
        out.append(c)
        c = boundaries.parent_code(c)
    return out


def search_index(boundaries_dir: str | Path) -> bytes:
    """JSON of every province, amphoe and tambon: code, Thai and English names, the names of
    the areas it lies in, and its bounding box (for the map's search box)."""
    bdir = str(boundaries_dir)
    return _search_index(bdir, _source_key(bdir))


@functools.lru_cache(maxsize=16)
def _cell_places(boundaries_dir: str, digest: str, cells: tuple[str, ...]
                 ) -> tuple[list[str], list[str]]:
    import h3

    tambons = geometry.simplified_level(boundaries_dir, "tambon", 0.0005)
    tree = shapely.STRtree(np.asarray(tambons.geometry.values))
    codes = tambons["code"].to_numpy()
    xs: list[float] = []
    ys: list[float] = []
    owner: list[int] = []
    for i, cell in enumerate(cells):
        lat, lng = h3.cell_to_latlng(cell)
        pts = [(lat, lng), *h3.cell_to_boundary(cell)]
        for la, lo in pts:
            xs.append(lo)
            ys.append(la)
            owner.append(i)
    points = shapely.points(np.asarray(xs), np.asarray(ys))
    src, hit = tree.query(points, predicate="intersects")
    found: list[list[str]] = [[] for _ in cells]
    for p, t in zip(src.tolist(), hit.tolist(), strict=True):
        names = found[owner[p]]
        code = str(codes[t])
        if code not in names:  # centre first, then the vertices' tambons
            names.append(code)
    h = boundaries.hierarchy(boundaries_dir)
    th: list[str] = []
    en: list[str] = []
    for names in found:
        shown = names[:MAX_NAMED]
        more = len(names) - len(shown)
        t = ", ".join(f"ต.{h.name(c, 'th')} อ.{h.name(c[:6], 'th')}" for c in shown)
        e = "; ".join(f"{h.name(c, 'en')}, {h.name(c[:6], 'en')}" for c in shown)
        if more:
            t += f" และอีก {more} ตำบล"
            e += f" and {more} more"
        th.append(t)
        en.append(e)
    return th, en


def cell_places(boundaries_dir: str | Path, cells: Sequence[str]) -> dict[str, list[str]]:
    """``{"th": [...], "en": [...]}``: per H3 cell the tambon(s) and amphoe it lies in (its
    centre's tambon first, then those its corners touch; empty outside Thailand)."""
    key = tuple(str(c) for c in cells)
    digest = hashlib.sha256("|".join(key).encode()).hexdigest()
    th, en = _cell_places(str(boundaries_dir), digest, key)
    return {"th": th, "en": en}
