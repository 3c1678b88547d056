"""Classed colour legends: mapclassify breaks + ColorBrewer colours (branca).

The browser styles each feature from these breaks (style in JavaScript, not per feature in
Python), so a legend is plain JSON: breaks, colours and human labels in Thai and English.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import mapclassify
import numpy as np
from branca.utilities import color_brewer

from service.render.catalogue import format_value

log = logging.getLogger(__name__)

CLASSIFIERS = ("quantiles", "natural_breaks", "equal_interval")
#: Fisher-Jenks is O(k·n²); above this many values it classifies a sample.
JENKS_SAMPLE_ABOVE = 3000
NO_DATA_COLOUR = "#d9d9d9"
SUPPRESSED_COLOUR = "#bdbdbd"


@dataclass(frozen=True)
class Legend:
    breaks: list[float]        # upper bound of each class (last = max)
    lower: float               # minimum value
    colours: list[str]
    labels: list[str]
    classifier: str

    def to_json(self) -> dict:
        return {
            "breaks": self.breaks, "lower": self.lower, "colours": self.colours,
            "labels": self.labels, "classifier": self.classifier,
            "no_data": NO_DATA_COLOUR, "suppressed": SUPPRESSED_COLOUR,
        }


def _colours(scheme: str, k: int) -> list[str]:
    reverse = scheme.endswith("_r")
    base = scheme[:-2] if reverse else scheme
    # ColorBrewer ramps start at 3 classes; take the first k of a 3-class ramp when k < 3
    ramp = list(color_brewer(base, max(k, 3)))
    if k < 3:
        ramp = [ramp[0], ramp[-1]][:k] if k == 2 else [ramp[-1]]
    return ramp[::-1] if reverse else ramp


def _bins(arr: np.ndarray, distinct: np.ndarray, k: int, classifier: str) -> list[float]:
    if k <= 1:
        return [float(distinct[0])]
    if classifier == "natural_breaks":
        if arr.size > JENKS_SAMPLE_ABOVE:
            pct = JENKS_SAMPLE_ABOVE / arr.size
            return list(mapclassify.FisherJenksSampled(arr, k=k, pct=pct).bins)
        return list(mapclassify.FisherJenks(arr, k=k).bins)
    if classifier == "equal_interval":
        return list(mapclassify.EqualInterval(arr, k=k).bins)
    return list(mapclassify.Quantiles(arr, k=k).bins)


def classify(
    values, *, scheme: str = "YlOrRd", k: int = 5, classifier: str = "quantiles",
    fmt: str = "percent", signed: bool = False,
) -> Legend | None:
    """Class breaks for the finite values; None when there is nothing to classify."""
    if classifier not in CLASSIFIERS:
        raise ValueError(f"classifier must be one of {CLASSIFIERS}, not {classifier!r}")
    if not 2 <= k <= 9:
        raise ValueError(f"k (number of classes) must be between 2 and 9, not {k}")
    arr = np.asarray(values, dtype="float64")
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return None
    distinct = np.unique(arr)
    k_eff = int(min(k, distinct.size))
    with warnings.catch_warnings():
        # mapclassify warns when it lowers k on tied data (handled below) and when numba is
        # missing (its pure-Python Fisher-Jenks is used); neither is a problem for a legend
        warnings.filterwarnings("ignore", message="Not enough unique values")
        warnings.filterwarnings("ignore", message="Numba not installed")
        breaks = _bins(arr, distinct, k_eff, classifier)
    # mapclassify may return repeated bins on heavily tied data; keep them strictly rising
    clean: list[float] = []
    for b in breaks:
        b = float(b)
        if not clean or b > clean[-1]:
            clean.append(b)
    clean[-1] = max(clean[-1], float(arr.max()))
    colours = _colours(scheme, len(clean))
    lower = float(arr.min())
    labels = []
    lo = lower
    for b in clean:
        low, high = format_value(lo, fmt, signed=signed), format_value(b, fmt, signed=signed)
        labels.append(low if low == high else f"{low} – {high}")  # not "0.0% – 0.0%"
        lo = b
    return Legend(clean, lower, colours, labels, classifier)


def colour_of(value: float, legend: Legend) -> str:
    """Colour of a value (the same rule the browser applies; used by tests and the naive map)."""
    if value is None or not np.isfinite(value):
        return NO_DATA_COLOUR
    idx = int(np.searchsorted(np.asarray(legend.breaks), value, side="left"))
    return legend.colours[min(idx, len(legend.colours) - 1)]
