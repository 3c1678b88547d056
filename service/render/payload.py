"""The per-measure JSON a map page fetches: one value row per area plus the classed legend.

Geometry is sent separately (service.render.geometry) and cached by the browser; this payload
is small (a few numbers per area) so switching measure, round or target group costs one
request and a restyle, not a new map.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from service.access.views import suppressed_mask
from service.render.catalogue import Measure, MissingColumns, compute
from service.render.legend import Legend, classify

#: figures shown in every tooltip, after the measure value (column, Thai, English, format)
FIGURES = (
    ("n_households", "ครัวเรือน", "Households", "count"),
    ("n_persons", "คน", "Persons", "count"),
    ("n_poor", "คนจน", "Poor people", "count"),
    ("h", "สัดส่วนคนจน (H)", "Headcount ratio (H)", "percent"),
    ("m0", "ดัชนี M0", "M0 index", "ratio"),
)


def _column(values: np.ndarray, *, integer: bool = False) -> list:
    """A JSON-ready list: NaN -> None, 6 significant digits (ints stay ints)."""
    arr = np.asarray(values, dtype="float64")
    finite = np.isfinite(arr)
    if integer:
        out = np.where(finite, np.round(arr), 0).astype("int64").tolist()
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            mag = np.floor(np.log10(np.abs(np.where(finite & (arr != 0), arr, 1.0))))
        decimals = np.clip(5 - mag, 0, 12).astype("int64")
        scaled = np.where(finite, arr, 0.0)
        out = [round(v, int(d)) for v, d in zip(scaled.tolist(), decimals.tolist(), strict=True)]
    if not finite.all():
        for i in np.flatnonzero(~finite).tolist():
            out[i] = None
    return out


def values_payload(
    frame: pd.DataFrame,
    measure: Measure,
    *,
    group: str | None = None,
    previous: pd.DataFrame | None = None,
    classes: int = 5,
    classifier: str = "quantiles",
    names: bool = True,
    fixed: Legend | None = None,
) -> dict:
    """Values, tooltip figures and legend for ``frame`` (an area table, CONTRACT §3).

    ``previous`` (the same level from the previous round) turns the measure into the change
    since that round: current - previous, matched by area code. Rows flagged ``suppressed``
    (disclosure control) keep no figures and are drawn hatched. ``fixed`` reuses another
    legend's classes (the national ones on a province page, see :func:`national_legend`).
    """
    if "code" not in frame.columns:
        raise ValueError("area table has no 'code' column")
    available = True
    try:
        values = compute(frame, measure, group=group)
    except MissingColumns:
        # absent columns mean "not available for this dataset", never 0 (CONTRACT-WAVE2 §3)
        available = False
        values = pd.Series(np.nan, index=frame.index, dtype="float64")
    change = previous is not None
    if change and available:
        assert previous is not None
        try:
            before = compute(previous, measure, group=group)
        except MissingColumns:
            before = pd.Series(np.nan, index=previous.index, dtype="float64")
        before.index = previous["code"].to_numpy()
        after = values.to_numpy(dtype="float64", na_value=np.nan).copy()
        before_aligned = before.reindex(frame["code"].to_numpy()).to_numpy(
            dtype="float64", na_value=np.nan)
        values = values - before_aligned
    suppressed = suppressed_mask(frame).to_numpy()
    vals = np.array(values.to_numpy(dtype="float64", na_value=np.nan), dtype="float64")
    vals[suppressed] = np.nan
    scheme = measure.scheme
    if change:
        # change: diverging ramp, red = worse whichever direction "worse" is
        scheme = "RdYlGn_r" if measure.worse == "high" else "RdYlGn"
    elif measure.format == "rank":
        scheme = measure.scheme + "_r"  # rank 1 = highest priority = darkest
    # the classes are the map's own areas': covers drawn beneath (coarser hexagons, the
    # amphoes of the r6 map) keep their figures but do not move the breaks
    cover = np.zeros(len(frame), dtype=bool)
    for c in ("cover_resolution", "cover_level"):
        if c in frame.columns:
            cover |= frame[c].notna().to_numpy()
    legend = classify(np.where(cover, np.nan, vals) if cover.any() and not cover.all()
                      else vals, scheme=scheme, k=classes, classifier=classifier,
                      fmt=measure.format, signed=change, fixed=fixed)
    figure_cols = [c for c, *_ in FIGURES if c in frame.columns]
    codes = frame["code"].astype(str).tolist()
    columns: dict[str, list] = {"value": _column(vals)}
    if change and available:
        # tooltips say from -> to, not only the difference
        columns["before"] = _column(np.where(suppressed, np.nan, before_aligned))
        columns["after"] = _column(np.where(suppressed, np.nan, after))
    for c, _th, _en, fmt in FIGURES:
        if c in figure_cols:
            col = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype="float64",
                                                                     na_value=np.nan)
            col = np.where(suppressed, np.nan, col)
            columns[c] = _column(col, integer=(fmt == "count"))
    out: dict = {
        "measure": measure.to_json(),
        "group": group,
        "change": change,
        "legend": legend.to_json() if legend else None,
        "codes": codes,
        "columns": columns,
        "suppressed": np.flatnonzero(suppressed).tolist(),
        "figures": [
            {"column": c, "th": th, "en": en, "format": fmt}
            for c, th, en, fmt in FIGURES if c in figure_cols
        ],
        "count": len(codes),
        "available": available,
        "n_suppressed": int(suppressed.sum()),
    }
    if names and {"name_th", "name_en"} <= set(frame.columns) and frame["name_th"].notna().any():
        out["names"] = {lang: [v if isinstance(v, str) else "" for v in frame[f"name_{lang}"]]
                        for lang in ("th", "en")}
    return out


def national_legend(frame: pd.DataFrame, measure: Measure, *, group: str | None = None,
                    previous: pd.DataFrame | None = None, classes: int = 5,
                    classifier: str = "quantiles") -> Legend | None:
    """The legend of the whole country's table of a level, reused on province pages
    ("fixed breaks") so maps of different provinces share their colours."""
    payload = values_payload(frame, measure, group=group, previous=previous, classes=classes,
                             classifier=classifier, names=False)
    lg = payload["legend"]
    if lg is None:
        return None
    return Legend(lg["breaks"], lg["lower"], lg["colours"], lg["labels"], lg["classifier"],
                  neutral=lg["neutral"])
