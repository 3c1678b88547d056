"""Priority ranking of areas (tambons, villages, H3 cells) with an explanation per rank.

The weights are data (``presets/ranking/priority.json`` or a file of the same shape), so a
committee can read, change and defend them. Method, for the areas being compared (e.g. the
villages of one province):

1. Each *component* j has a raw value per area, computed from the summed counts of the area
   table (docs/CONTRACT.md section 3): a count (``numerator``), a ratio of counts
   (``numerator / denominator``), optionally ``1 - ratio`` (``transform: one_minus``), clipped,
   and optionally the change against the previous round (``change: true``: current - previous;
   ``change_floor: 0`` counts a fall as no rise, so a falling area earns no points for it).
   A ratio whose denominator is below ``min_denominator`` (e.g. an H3 cell of 3 people) is
   treated as "no data" (``fill``): one poor person in a tiny area is not evidence of a rate.
   A raw value that cannot be computed (denominator 0, column null, area absent from the previous
   round) is replaced by ``fill`` (default 0, i.e. "no evidence of need") and flagged.
2. Normalisation, per component over the compared areas: ``minmax`` maps the lowest raw value
   to 0 and the highest to 1 (all equal -> 0); ``percentile`` uses the average rank / n.
   Both are non-decreasing in the raw value, so raising one area's need never lowers its rank.
3. ``priority_score = 100 * sum_j w_j * s_j / sum_j w_j`` (points 0-100);
   ``contrib_<j> = 100 * w_j * s_j / sum_j w_j`` so the contributions add up to the score.
4. Ties (scores equal to 1e-9) are broken by the configured ``tie_break`` keys, by default
   more poor people first, then higher M0, then the area code ascending, so the order is a
   deterministic permutation whatever the input row order.

A component whose columns are missing from the table (for example ``pop_raster`` for
villages, or ``m0_change`` without a previous round) is dropped and noted in
``frame.attrs["notes"]``; the remaining weights are used as they are (the score divides by
their sum).

The core works on numpy arrays whose last axis is the area, so the bootstrap in
:mod:`service.analysis.uncertainty` scores every replicate at once with the same code.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from service.errors import InvalidSpec

log = logging.getLogger(__name__)

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
DEFAULT_PRESET = PRESETS_DIR / "ranking" / "priority.json"
NORMALISATIONS = ("minmax", "percentile")
TRANSFORMS = ("none", "one_minus")
#: scores closer than this are a tie (then the tie-break keys decide)
SCORE_DECIMALS = 9


@dataclass(frozen=True)
class Component:
    id: str
    weight: float
    numerator: str
    denominator: str | None = None
    transform: str = "none"
    clip: tuple[float, float] | None = None
    change: bool = False
    change_floor: float | None = None
    min_denominator: float | None = None
    fill: float = 0.0
    label_en: str = ""
    label_th: str = ""
    format: str = "count"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.numerator,) + ((self.denominator,) if self.denominator else ())


@dataclass(frozen=True)
class PriorityConfig:
    components: tuple[Component, ...]
    normalise: str = "minmax"
    tie_break: tuple[tuple[str, bool], ...] = (("n_poor", False), ("m0", False), ("code", True))
    name: str = "priority"
    description_en: str = ""
    description_th: str = ""
    source: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "normalise": self.normalise,
            "components": [
                {k: v for k, v in c.__dict__.items() if v not in (None, "none")}
                for c in self.components
            ],
            "tie_break": [f"{k} {'asc' if asc else 'desc'}" for k, asc in self.tie_break],
        }


def _spec_error(msg: str, source: str, where: str | None = None) -> InvalidSpec:
    return InvalidSpec(msg, file=source or None, column=where)


def parse_config(spec: Mapping[str, Any], *, source: str = "") -> PriorityConfig:
    """Validate a weights mapping (the JSON shape of ``presets/ranking/priority.json``)."""
    if not isinstance(spec, Mapping):
        raise _spec_error("weights specification must be a JSON object", source)
    raw_components = spec.get("components")
    if not isinstance(raw_components, list) or not raw_components:
        raise _spec_error("'components' must be a non-empty list", source, "components")
    normalise = spec.get("normalise", "minmax")
    if normalise not in NORMALISATIONS:
        raise _spec_error(f"'normalise' must be one of {NORMALISATIONS}, got {normalise!r}",
                          source, "normalise")
    comps: list[Component] = []
    seen: set[str] = set()
    allowed = set(Component.__dataclass_fields__)
    for i, c in enumerate(raw_components):
        where = f"components[{i}]"
        if not isinstance(c, Mapping):
            raise _spec_error("each component must be an object", source, where)
        unknown = sorted(set(c) - allowed)
        if unknown:
            raise _spec_error(f"unknown key(s) {unknown}", source, where)
        cid = c.get("id")
        if not isinstance(cid, str) or not cid.isidentifier():
            raise _spec_error("'id' must be an identifier such as 'm0'", source, where)
        if cid in seen:
            raise _spec_error(f"duplicate component id {cid!r}", source, where)
        seen.add(cid)
        weight = c.get("weight")
        if (not isinstance(weight, int | float) or isinstance(weight, bool)
                or not np.isfinite(weight) or weight < 0):
            raise _spec_error(f"'weight' of {cid!r} must be a number >= 0", source, where)
        if not isinstance(c.get("numerator"), str):
            raise _spec_error(f"'numerator' of {cid!r} must be a column name", source, where)
        transform = c.get("transform", "none")
        if transform not in TRANSFORMS:
            raise _spec_error(f"'transform' of {cid!r} must be one of {TRANSFORMS}", source, where)
        clip = c.get("clip")
        if clip is not None:
            if (not isinstance(clip, list | tuple) or len(clip) != 2
                    or not all(isinstance(v, int | float) for v in clip) or clip[0] > clip[1]):
                raise _spec_error(f"'clip' of {cid!r} must be [low, high]", source, where)
            clip = (float(clip[0]), float(clip[1]))
        floor = c.get("change_floor")
        if floor is not None and (not c.get("change") or not isinstance(floor, int | float)
                                  or isinstance(floor, bool) or not np.isfinite(floor)):
            raise _spec_error(f"'change_floor' of {cid!r} must be a number and needs "
                              f"'change': true", source, where)
        min_den = c.get("min_denominator")
        if min_den is not None and (not c.get("denominator") or not isinstance(min_den, int | float)
                                    or isinstance(min_den, bool) or not min_den >= 0):
            raise _spec_error(f"'min_denominator' of {cid!r} must be a number >= 0 and needs "
                              f"a 'denominator'", source, where)
        comps.append(Component(
            id=cid, weight=float(weight), numerator=c["numerator"],
            denominator=c.get("denominator"), transform=transform, clip=clip,
            change=bool(c.get("change", False)),
            change_floor=None if floor is None else float(floor),
            min_denominator=None if min_den is None else float(min_den), fill=float(c.get("fill", 0.0)),
            label_en=str(c.get("label_en", cid)), label_th=str(c.get("label_th", cid)),
            format=str(c.get("format", "count")),
        ))
    if sum(c.weight for c in comps) <= 0:
        raise _spec_error("the weights must not all be zero", source, "components")
    keys: list[tuple[str, bool]] = []
    for item in spec.get("tie_break", ["n_poor desc", "m0 desc", "code asc"]):
        parts = str(item).split()
        if len(parts) != 2 or parts[1] not in ("asc", "desc"):
            raise _spec_error(f"tie_break entry {item!r} must be '<name> asc|desc'", source,
                              "tie_break")
        keys.append((parts[0], parts[1] == "asc"))
    if not keys or keys[-1][0] != "code":
        keys.append(("code", True))  # the code is unique: the order is always total
    return PriorityConfig(
        components=tuple(comps), normalise=normalise, tie_break=tuple(keys),
        name=str(spec.get("name", "custom")), description_en=str(spec.get("description_en", "")),
        description_th=str(spec.get("description_th", "")), source=source,
    )


def load_config(path: str | Path | None = None,
                overrides: Mapping[str, float] | None = None) -> PriorityConfig:
    """Read a weights file (default ``presets/ranking/priority.json``); ``overrides`` maps component
    id -> new weight (e.g. from a query string ``w_m0=0.5``)."""
    path = Path(path) if path else DEFAULT_PRESET
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidSpec(f"weights file not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise InvalidSpec(f"invalid JSON: {exc.msg}", file=str(path), row=exc.lineno) from exc
    if overrides:
        ids = {c.get("id") for c in spec.get("components", [])}
        unknown = sorted(set(overrides) - ids)
        if unknown:
            raise InvalidSpec(f"unknown weight(s) {unknown}; known: {sorted(ids)}")
        for c in spec["components"]:
            if c["id"] in overrides:
                c["weight"] = overrides[c["id"]]
    return parse_config(spec, source=str(path))


# ---------------------------------------------------------------------------- numpy core

def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return out


def component_raw(comp: Component, columns: Mapping[str, np.ndarray],
                  previous: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Raw value of one component; NaN where it cannot be computed (fill is applied later)."""
    num = np.asarray(columns[comp.numerator], dtype="float64")
    val = num if comp.denominator is None else _ratio(
        num, np.asarray(columns[comp.denominator], dtype="float64"))
    if comp.min_denominator is not None and comp.denominator is not None:
        den = np.asarray(columns[comp.denominator], dtype="float64")
        val = np.where(den >= comp.min_denominator, val, np.nan)  # too small: "no data"
    if comp.transform == "one_minus":
        val = 1.0 - val
    if comp.clip is not None:
        val = np.clip(val, comp.clip[0], comp.clip[1])
    if comp.change:
        if previous is None:
            raise ValueError(f"component {comp.id} needs the previous round")
        prev = component_raw(
            Component(**{**comp.__dict__, "change": False}), previous, None)
        val = val - prev
        if comp.change_floor is not None:
            val = np.maximum(val, comp.change_floor)  # NaN (no previous value) stays NaN
    return val


def normalise(raw: np.ndarray, method: str = "minmax") -> np.ndarray:
    """Map raw values to [0, 1] along the last axis (non-decreasing in each value)."""
    raw = np.asarray(raw, dtype="float64")
    if raw.shape[-1] == 0:
        return raw.copy()
    if method == "minmax":
        lo = raw.min(axis=-1, keepdims=True)
        span = raw.max(axis=-1, keepdims=True) - lo
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(span > 0, (raw - lo) / np.where(span > 0, span, 1.0), 0.0)
        return np.clip(out, 0.0, 1.0)
    if method == "percentile":
        from scipy.stats import rankdata

        n = raw.shape[-1]
        if n == 1:
            return np.zeros_like(raw)
        return (rankdata(raw, axis=-1, method="average") - 1.0) / (n - 1)
    raise ValueError(f"unknown normalisation {method!r}")


def score_arrays(config: PriorityConfig, columns: Mapping[str, np.ndarray],
                 previous: Mapping[str, np.ndarray] | None = None,
                 ) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """Scores (last axis = areas) and, per component id, its raw/filled/norm/contrib arrays.

    Components whose columns are absent from ``columns`` (or ``previous`` for change
    components) must have been removed from ``config`` by :func:`usable_config`.
    """
    total_w = sum(c.weight for c in config.components)
    parts: dict[str, dict[str, np.ndarray]] = {}
    score: np.ndarray | None = None
    for comp in config.components:
        raw = component_raw(comp, columns, previous)
        missing = ~np.isfinite(raw)
        filled = np.where(missing, comp.fill, raw)
        norm = normalise(filled, config.normalise)
        contrib = 100.0 * comp.weight * norm / total_w
        parts[comp.id] = {"raw": raw, "filled": filled, "norm": norm, "contrib": contrib,
                          "missing": missing}
        score = contrib if score is None else score + contrib
    assert score is not None
    return score, parts


def usable_config(config: PriorityConfig, available: set[str],
                  previous_available: set[str] | None) -> tuple[PriorityConfig, list[str]]:
    """Drop components whose inputs are missing; return the notes saying so."""
    keep, notes = [], []
    for comp in config.components:
        missing = [c for c in comp.columns if c not in available]
        if comp.change:
            if previous_available is None:
                notes.append(f"{comp.id}: no previous round, component left out")
                continue
            missing += [f"previous.{c}" for c in comp.columns if c not in previous_available]
        if missing:
            notes.append(f"{comp.id}: column(s) {', '.join(missing)} absent, component left out")
            continue
        if comp.weight > 0:
            keep.append(comp)
    if not keep:
        raise InvalidSpec("no priority component can be computed from this table: "
                          + "; ".join(notes))
    return PriorityConfig(**{**config.__dict__, "components": tuple(keep)}), notes


# ---------------------------------------------------------------------------- frames

def _fmt(value: float, kind: str) -> str:
    if not np.isfinite(value):
        return "n/a"
    if kind == "ratio":
        return f"{value:.4f}"
    return f"{value:,.0f}"


def _explain(row_parts: list[tuple[Component, float, float, bool, bool]], lang: str) -> str:
    """Components by contribution, largest first; those adding 0 points are left out."""
    items = []
    for comp, raw, contrib, missing, small in sorted(row_parts, key=lambda t: -t[2]):
        if contrib <= 0 and not missing:
            continue
        label = comp.label_th if lang == "th" else comp.label_en
        note = ""
        if small:
            n = f"{comp.min_denominator:,.0f}"
            note = f" (น้อยกว่า {n} คน)" if lang == "th" else f" (fewer than {n} people)"
        elif missing:
            note = " (ไม่มีข้อมูล)" if lang == "th" else " (no data)"
        items.append(f"{label} {_fmt(raw, comp.format)}{note}: +{contrib:.1f}")
    if not items:
        return "ไม่มีองค์ประกอบใดให้คะแนน" if lang == "th" else "no component adds points"
    return "; ".join(items)


def explanations(components: tuple[Component, ...] | list[Component],
                 raw: Mapping[str, np.ndarray], contrib: Mapping[str, np.ndarray],
                 small: Mapping[str, np.ndarray], lang: str | tuple[str, ...]) -> Any:
    """The :func:`_explain` text of every area at once.

    Returns a list of str for one ``lang`` or, for a tuple of languages, a dict lang -> list.
    Each component's value and points are formatted once (shared by the languages); the items
    of each area are put in the order of its contributions (largest first, ties in component
    order, like the stable ``sorted`` of :func:`_explain`) and joined with ``"; "``.
    """
    langs = (lang,) if isinstance(lang, str) else tuple(lang)
    n = len(next(iter(raw.values()))) if raw else 0
    result: dict[str, list[str]] = {lg: [] for lg in langs}
    if n == 0 or not components:
        return result[langs[0]] if isinstance(lang, str) else result
    k = len(components)
    points = np.column_stack([np.asarray(contrib[c.id], dtype="float64") for c in components])
    order = np.argsort(-points, axis=1, kind="stable")
    shown = np.empty((n, k), dtype=bool)
    value_txt, kinds = [], []
    for j, comp in enumerate(components):
        r = np.asarray(raw[comp.id], dtype="float64")
        missing = ~np.isfinite(r)
        tiny = (np.asarray(small[comp.id], dtype=bool) if comp.id in small
                else np.zeros(n, dtype=bool))
        shown[:, j] = ~((points[:, j] <= 0) & ~missing)
        pattern = "{:.4f}" if comp.format == "ratio" else "{:,.0f}"
        value_txt.append([pattern.format(v) if f else "n/a"
                          for v, f in zip(r.tolist(), (~missing).tolist(), strict=True)])
        kinds.append(np.where(tiny, 2, np.where(missing, 1, 0)).tolist())  # note kind
    points_txt = [[f"{v:.1f}" for v in points[:, j].tolist()] for j in range(k)]
    order_l = order.tolist()
    shown_l = shown.tolist()
    for lg in langs:
        th = lg == "th"
        notes = []
        for comp in components:
            m = f"{comp.min_denominator:,.0f}" if comp.min_denominator is not None else ""
            notes.append(("", " (ไม่มีข้อมูล)" if th else " (no data)",
                          f" (น้อยกว่า {m} คน)" if th else f" (fewer than {m} people)"))
        labels = [(c.label_th if th else c.label_en) + " " for c in components]
        none = "ไม่มีองค์ประกอบใดให้คะแนน" if th else "no component adds points"
        texts = result[lg]
        for i in range(n):
            row_shown = shown_l[i]
            parts = [f"{labels[j]}{value_txt[j][i]}{notes[j][kinds[j][i]]}: +{points_txt[j][i]}"
                     for j in order_l[i] if row_shown[j]]
            texts.append("; ".join(parts) if parts else none)
    return result[langs[0]] if isinstance(lang, str) else result


def rank_areas(areas: pd.DataFrame, config: PriorityConfig | None = None, *,
               previous: pd.DataFrame | None = None, explain: bool = True) -> pd.DataFrame:
    """Rank areas by priority, most urgent first.

    Parameters
    ----------
    areas : area table (docs/CONTRACT.md section 3), one row per area, ``code`` unique.
    config : weights (default: ``presets/ranking/priority.json``).
    previous : the same level's table from the previous round (matched on ``code``), for
        change components.
    explain : add ``explanation_en`` / ``explanation_th`` text columns.

    Returns
    -------
    A new frame sorted by ``priority_rank`` (1 = act first) with the identity columns,
    ``priority_score`` (0-100), and per component ``raw_<id>``, ``norm_<id>`` (0-1) and
    ``contrib_<id>`` (points; they add up to the score). ``attrs["notes"]`` lists left-out
    components, ``attrs["config"]`` the weights used.
    """
    config = config or load_config()
    if "code" not in areas.columns:
        raise InvalidSpec("area table has no 'code' column", column="code")
    if areas["code"].duplicated().any():
        dup = areas.loc[areas["code"].duplicated(), "code"].iloc[0]
        raise InvalidSpec(f"duplicate area code {dup!r}", column="code")
    frame = areas.reset_index(drop=True)
    prev_cols: dict[str, np.ndarray] | None = None
    prev_avail: set[str] | None = None
    if previous is not None:
        prev_avail = set(previous.columns) - {"code"}
        aligned = frame[["code"]].merge(previous.drop_duplicates("code"), on="code", how="left")
        prev_cols = {c: pd.to_numeric(aligned[c], errors="coerce").to_numpy("float64",
                                                                             na_value=np.nan)
                     for c in prev_avail if c in aligned and _is_numeric(aligned[c])}
        prev_avail = set(prev_cols)
    used, notes = usable_config(config, {c for c in frame.columns if _is_numeric(frame[c])},
                                prev_avail)
    cols = {c: frame[c].to_numpy("float64", na_value=np.nan)
            for comp in used.components for c in comp.columns}
    score, parts = score_arrays(used, cols, prev_cols)

    out = frame[[c for c in ("level", "code", "name_th", "name_en", "parent_code",
                             "province_code") if c in frame.columns]].copy()
    out["priority_score"] = score
    small: dict[str, np.ndarray] = {}
    for comp in used.components:
        if comp.min_denominator is not None and comp.denominator is not None:
            den = cols[comp.denominator]
            small[comp.id] = ~(den >= comp.min_denominator)
    for cid, p in parts.items():
        out[f"raw_{cid}"] = p["raw"]
        out[f"norm_{cid}"] = p["norm"]
        out[f"contrib_{cid}"] = p["contrib"]
        if cid in small:
            out[f"_small_{cid}"] = small[cid]
    keys, asc = _sort_keys(used, out, frame)
    order = np.lexsort([k if a else -k for k, a in reversed(list(zip(keys, asc, strict=True)))])
    out = out.iloc[order].reset_index(drop=True)
    out.insert(0, "priority_rank", np.arange(1, len(out) + 1, dtype="int64"))
    if explain:
        small_sorted = {cid: out[f"_small_{cid}"].to_numpy(bool) for cid in small}
        text = explanations(
            used.components, {c.id: out[f"raw_{c.id}"].to_numpy("float64")
                              for c in used.components},
            {c.id: out[f"contrib_{c.id}"].to_numpy("float64") for c in used.components},
            small_sorted, ("en", "th"))
        out["explanation_en"] = text["en"]
        out["explanation_th"] = text["th"]
    out = out.drop(columns=[f"_small_{cid}" for cid in small])
    out.attrs["notes"] = notes
    out.attrs["config"] = used.to_dict()
    if notes:
        log.info("priority ranking: %s", "; ".join(notes))
    return out


def _is_numeric(s: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(s))


def _sort_keys(config: PriorityConfig, out: pd.DataFrame, frame: pd.DataFrame,
               ) -> tuple[list[np.ndarray], list[bool]]:
    """Numeric sort keys, first = primary. Codes become their rank (unique -> total order)."""
    keys = [np.round(out["priority_score"].to_numpy("float64"), SCORE_DECIMALS)]
    asc = [False]
    for name, ascending in config.tie_break:
        if name == "code":
            codes = out["code"].astype(str).to_numpy()
            key = np.empty(len(codes), dtype="float64")
            key[np.argsort(codes, kind="stable")] = np.arange(len(codes))
        elif f"raw_{name}" in out:
            key = np.nan_to_num(out[f"raw_{name}"].to_numpy("float64"), nan=-np.inf)
        elif name in frame and _is_numeric(frame[name]):
            key = np.nan_to_num(frame[name].to_numpy("float64", na_value=np.nan), nan=-np.inf)
        else:
            continue  # key not available at this level (documented in docs/ranking.md)
        keys.append(key)
        asc.append(ascending)
    return keys, asc


def rank_positions(score: np.ndarray, tie_keys: np.ndarray) -> np.ndarray:
    """1-based rank of each area for a (replicates x areas) score array.

    ``tie_keys`` is a per-area integer order used when scores tie (0 = first); it is the
    deterministic order of :func:`rank_areas` and keeps the result a permutation.
    """
    score = np.atleast_2d(np.round(score, SCORE_DECIMALS))
    order = np.lexsort((np.broadcast_to(tie_keys, score.shape), -score), axis=-1)
    ranks = np.empty_like(order)
    rows = np.arange(score.shape[0])[:, None]
    ranks[rows, order] = np.arange(1, score.shape[-1] + 1)
    return ranks
