"""The per-measure JSON a map page fetches: one value row per area plus the classed legend.

Geometry is sent separately (service.render.geometry) and cached by the browser; this payload
is small (a few numbers per area) so switching measure, round or target group costs one
request and a restyle, not a new map.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from service.render.catalogue import Measure, compute
from service.render.legend import classify

#: figures shown in every tooltip, after the measure value (column, Thai, English, format)
FIGURES = (
    ("n_households", "ครัวเรือน", "Households", "count"),
    ("n_persons", "คน", "Persons", "count"),
    ("n_poor", "คนจน", "Poor people", "count"),
    ("h", "สัดส่วนคนจน (H)", "Headcount ratio (H)", "percent"),
    ("m0", "ดัชนี M0", "M0 index", "ratio"),
)


def _clean(value: object) -> float | int | None:
    if value is None:
        return None
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if math.isnan(f) or math.isinf(f):
        return None
    if f.is_integer() and abs(f) < 2**53:
        return int(f)
    return float(f"{f:.6g}")


def values_payload(
    frame: pd.DataFrame,
    measure: Measure,
    *,
    group: str | None = None,
    previous: pd.DataFrame | None = None,
    classes: int = 5,
    classifier: str = "quantiles",
    names: bool = True,
) -> dict:
    """Values, tooltip figures and legend for ``frame`` (an area table, CONTRACT §3).

    ``previous`` (the same level from the previous round) turns the measure into the change
    since that round: current - previous, matched by area code. Rows flagged ``suppressed``
    (disclosure control) keep no figures and are drawn hatched.
    """
    if "code" not in frame.columns:
        raise ValueError("area table has no 'code' column")
    values = compute(frame, measure, group=group)
    change = previous is not None
    if change:
        assert previous is not None
        before = compute(previous, measure, group=group)
        before.index = previous["code"].to_numpy()
        values = values - before.reindex(frame["code"].to_numpy()).to_numpy()
    suppressed = (
        frame["suppressed"].fillna(False).astype(bool).to_numpy()
        if "suppressed" in frame.columns else np.zeros(len(frame), dtype=bool)
    )
    vals = np.array(values.to_numpy(dtype="float64", na_value=np.nan), dtype="float64")
    vals[suppressed] = np.nan
    scheme = measure.scheme
    if change:
        # change: diverging ramp, red = worse whichever direction "worse" is
        scheme = "RdYlGn_r" if measure.worse == "high" else "RdYlGn"
    elif measure.format == "rank":
        scheme = measure.scheme + "_r"  # rank 1 = highest priority = darkest
    legend = classify(vals, scheme=scheme, k=classes, classifier=classifier,
                      fmt=measure.format, signed=change)
    figure_cols = [c for c, *_ in FIGURES if c in frame.columns]
    columns = {c: frame[c].to_numpy() for c in figure_cols}
    rows: dict[str, list] = {}
    codes = frame["code"].astype(str).to_numpy()
    for i, code in enumerate(codes):
        if suppressed[i]:
            rows[code] = [None, *([None] * len(figure_cols)), 1]
            continue
        rows[code] = [_clean(vals[i]), *(_clean(columns[c][i]) for c in figure_cols), 0]
    out: dict = {
        "measure": measure.to_json(),
        "group": group,
        "change": change,
        "legend": legend.to_json() if legend else None,
        "fields": ["value", *figure_cols, "suppressed"],
        "figures": [
            {"column": c, "th": th, "en": en, "format": fmt}
            for c, th, en, fmt in FIGURES if c in figure_cols
        ],
        "rows": rows,
        "count": len(rows),
        "n_suppressed": int(suppressed.sum()),
    }
    if names and {"name_th", "name_en"} <= set(frame.columns):
        out["names"] = {
            code: [str(th), str(en)]
            for code, th, en in zip(codes, frame["name_th"], frame["name_en"], strict=True)
        }
    return out
