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

log = logging.getLogger(__name__)

CLASSIFIERS = ("quantiles", "natural_breaks", "equal_interval")
#: Fisher-Jenks is O(k·n²); above this many values it classifies a sample.
JENKS_SAMPLE_ABOVE = 3000
NO_DATA_COLOUR = "#d9d9d9"
SUPPRESSED_COLOUR = "#bdbdbd"


#: a change smaller than this (either way) is "no change": the neutral class of change maps
NEUTRAL = {"percent": 0.005, "ratio": 0.005, "count": 0.5, "rank": 0.5}
#: classes narrower than this would colour differences nobody should act on (the intensity A
#: spans 35.9-36.9 % across provinces): fewer, lighter classes instead
MIN_WIDTH = {"percent": 0.005, "ratio": 0.005, "count": 1.0, "rank": 1.0}
#: decimals of a label (percent: of the percentage); more are used when labels would repeat
DECIMALS = {"percent": 1, "ratio": 3, "count": 0, "rank": 0}


@dataclass(frozen=True)
class Legend:
    breaks: list[float]        # upper bound of each class (last = max)
    lower: float               # minimum value
    colours: list[str]
    labels: list[str]
    classifier: str
    neutral: int | None = None  # index of the "no change" class of a diverging legend
    note_th: str = ""
    note_en: str = ""

    def to_json(self) -> dict:
        return {
            "breaks": self.breaks, "lower": self.lower, "colours": self.colours,
            "labels": self.labels, "classifier": self.classifier,
            "no_data": NO_DATA_COLOUR, "suppressed": SUPPRESSED_COLOUR,
            "neutral": self.neutral, "note_th": self.note_th, "note_en": self.note_en,
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


def _number(value: float, fmt: str, decimals: int, signed: bool) -> str:
    sign = "+" if signed and value > 0 else ""
    if fmt == "percent":
        return f"{sign}{value * 100:,.{decimals}f}%"
    return f"{sign}{value:,.{decimals}f}"


def _scale(fmt: str, decimals: int) -> float:
    """Size of one displayed unit (0.1 % = 0.001 for percent at 1 decimal)."""
    return 10.0 ** -(decimals + (2 if fmt == "percent" else 0))


def _labels(lower: float, breaks: list[float], fmt: str, signed: bool, decimals: int,
            neutral: int | None = None) -> list[str]:
    """'lo – hi' per class; a class of one value is that value; a class after a one-value
    class starts with '>' (0.0%, > 0.0% – 25.0%: not 0.0% twice)."""
    out: list[str] = []
    lo = lower
    single_before = False
    for i, b in enumerate(breaks):
        low, high = _number(lo, fmt, decimals, signed), _number(b, fmt, decimals, signed)
        if i == neutral:
            out.append(f"{low} – {high} (ไม่เปลี่ยนแปลง · no change)")
            single_before = False
        elif low == high and (i == 0 or (single_before is False and lo == b)):
            out.append(low)
            single_before = True
        else:
            out.append(f"{'> ' if single_before or (i and low == out[-1]) else ''}{low} – {high}")
            single_before = False
        lo = b
    return out


def _rounded(breaks: list[float], lower: float, top: float, fmt: str) -> tuple[list[float], int]:
    """Breaks rounded to the label precision (so labels say exactly where classes change),
    strictly rising, the last = the maximum; more decimals when rounding would merge classes."""
    base = DECIMALS.get(fmt, 1)
    best: tuple[list[float], int] = ([], base)
    for decimals in range(base, base + 4):
        unit = _scale(fmt, decimals)
        clean: list[float] = []
        for b in breaks[:-1]:
            r = round(round(float(b) / unit) * unit, 12)
            if r >= top:
                break
            if (not clean or r > clean[-1]) and r >= lower:
                clean.append(r)
        clean.append(float(top))
        if len(clean) > len(best[0]):
            best = (clean, decimals)
        if len(clean) == len(breaks):
            break
    return best


def _nice_step(span: float) -> float:
    exp = 10.0 ** np.floor(np.log10(span))
    for m in (1, 2, 2.5, 5, 10):
        if m * exp >= span:
            return float(m * exp)
    return float(10 * exp)


def _change_labels(lower: float, breaks: list[float], fmt: str, neutral: int) -> list[str]:
    if fmt not in ("count", "rank"):
        decimals = DECIMALS.get(fmt, 1)
        while decimals < DECIMALS.get(fmt, 1) + 3 and len(
                {_number(b, fmt, decimals, True) for b in breaks}) < len(breaks):
            decimals += 1
        out = _labels(lower, breaks, fmt, True, decimals)
        out[neutral] = f"{out[neutral]} (ไม่เปลี่ยนแปลง · no change)"
        return out
    # whole numbers: (lo, hi] holds floor(lo)+1 .. floor(hi) (the first class from ceil(lo));
    # the neutral class is 0
    out = []
    lo = lower
    for i, b in enumerate(breaks):
        a = int(np.ceil(lo)) if i == 0 else int(np.floor(lo)) + 1
        z = int(np.floor(b))
        if i == neutral:
            out.append("0 (ไม่เปลี่ยนแปลง · no change)")
        else:
            first, last = _number(a, fmt, 0, True), _number(z, fmt, 0, True)
            out.append(first if a == z else f"{first} – {last}")
        lo = b
    return out


def diverging(arr: np.ndarray, *, scheme: str, k: int, fmt: str) -> Legend:
    """Change legend: a neutral class around 0 (|change| < NEUTRAL) and equal, nicely rounded
    classes of decrease and increase, symmetric, so colours compare across the map; exactly
    ``k`` classes."""
    eps = NEUTRAL.get(fmt, 0.005)
    top = float(np.abs(arr).max()) if arr.size else 0.0
    below = k - 1
    neg = below // 2 + (below % 2 if arr.min() < -arr.max() else 0)
    pos = below - neg
    side = max(neg, pos, 1)
    step = _nice_step(max(top - eps, side * eps) / side)
    breaks = ([-eps - step * i for i in range(neg - 1, 0, -1)] + [-eps]) if neg else []
    breaks += [eps] + [eps + step * i for i in range(1, pos + 1)]
    breaks = [round(b, 12) for b in breaks]
    breaks[-1] = max(breaks[-1], float(arr.max()))
    lower = min(float(arr.min()), round(breaks[0] - step, 12) if neg else -eps)
    ramp = _colours(scheme, 2 * side + 1)
    colours = ramp[side - neg:side] + [ramp[side]] + ramp[side + 1:side + 1 + pos]
    labels = _change_labels(lower, breaks, fmt, neg)
    return Legend(breaks, lower, colours, labels, "diverging", neutral=neg)


def classify(
    values, *, scheme: str = "YlOrRd", k: int = 5, classifier: str = "quantiles",
    fmt: str = "percent", signed: bool = False, fixed: Legend | None = None,
) -> Legend | None:
    """Class breaks for the finite values; None when there is nothing to classify.

    ``signed`` (a change since the previous round) gives a diverging legend with a neutral
    class; ``fixed`` reuses another legend's breaks and colours (national breaks on a
    province page), widened to hold this page's extremes.
    """
    if classifier not in CLASSIFIERS:
        raise ValueError(f"classifier must be one of {CLASSIFIERS}, not {classifier!r}")
    if not 2 <= k <= 9:
        raise ValueError(f"k (number of classes) must be between 2 and 9, not {k}")
    arr = np.asarray(values, dtype="float64")
    arr = arr[np.isfinite(arr)]
    if fixed is not None:
        if arr.size == 0:
            return fixed
        breaks = list(fixed.breaks)
        breaks[-1] = max(breaks[-1], float(arr.max()))
        lower = min(fixed.lower, float(arr.min()))
        decimals = DECIMALS.get(fmt, 1)
        labels = list(fixed.labels)
        if breaks != fixed.breaks or lower != fixed.lower:
            labels = _labels(lower, breaks, fmt, signed, decimals, neutral=fixed.neutral)
        return Legend(breaks, lower, list(fixed.colours), labels, fixed.classifier,
                      neutral=fixed.neutral, note_th="ช่วงสีระดับประเทศ",
                      note_en="national classes")
    if arr.size == 0:
        return None
    if signed:
        return diverging(arr, scheme=scheme, k=k, fmt=fmt)
    distinct = np.unique(arr)
    lower, top = float(arr.min()), float(arr.max())
    note_th = note_en = ""
    width = MIN_WIDTH.get(fmt, 0.0)
    narrow = distinct.size > 1 and (top - lower) / k < width
    if narrow:
        # a narrow range: equal classes at least MIN_WIDTH wide, coloured lightly
        n = max(1, min(k, int(np.ceil((top - lower) / width - 1e-9))))
        breaks = [lower + (top - lower) * (i + 1) / n for i in range(n)]
        note_th = "ค่าใกล้เคียงกันทุกพื้นที่"
        note_en = "values are close together"
    else:
        rest = arr
        breaks = []
        share_of_min = float(np.mean(arr == lower))
        if distinct.size > 2 and share_of_min > 1 / k:
            # many areas at the minimum (typically 0): that value is a class of its own and
            # the others share the remaining classes (not one class "0.0% – 30%")
            breaks = [lower]
            rest = arr[arr > lower]
            k -= 1
        rest_distinct = np.unique(rest)
        k_eff = int(min(k, rest_distinct.size))
        with warnings.catch_warnings():
            # mapclassify warns when it lowers k on tied data and when numba is missing
            warnings.filterwarnings("ignore", message="Not enough unique values")
            warnings.filterwarnings("ignore", message="Numba not installed")
            breaks += [float(b) for b in _bins(rest, rest_distinct, k_eff, classifier)]
    clean, decimals = _rounded(breaks, lower, top, fmt)
    ramp = _colours(scheme, k if narrow else len(clean))
    if narrow:
        colours = _colours(scheme, max(k, 3))[:len(clean)] if len(clean) > 1 else [ramp[0]]
    else:
        colours = ramp
    labels = _labels(lower, clean, fmt, signed, decimals)
    return Legend(clean, lower, colours, labels, classifier, note_th=note_th, note_en=note_en)


def colour_of(value: float, legend: Legend) -> str:
    """Colour of a value (the same rule the browser applies; used by tests and the naive map)."""
    if value is None or not np.isfinite(value):
        return NO_DATA_COLOUR
    idx = int(np.searchsorted(np.asarray(legend.breaks), value, side="left"))
    return legend.colours[min(idx, len(legend.colours) - 1)]
