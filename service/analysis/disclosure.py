"""Disclosure control for everything a non-authorised user sees (public role).

Rules (docs/CONTRACT.md §3a):

* primary suppression: an area with fewer than ``min_households`` households (1-9 by default)
  is suppressed: all its counts, ratios and its location are nulled in the *returned copy*;
  the stored data are never changed;
* complementary suppression within each parent (areas with no parent form one group under the
  country total): if a parent group holds suppressed areas, they must be at least two and
  together hold at least ``min_households`` households, else the parent total minus the
  published siblings would reveal them; the smallest published siblings are suppressed until
  that holds. When the parent itself is suppressed, at least one of its children must be too
  (else the parent is the sum of its published children);
* rates built on fewer than ``min_households`` people (group rates ``h_<grp>``/``m0_<grp>``
  and their poor counts, programme coverage and its counts) are suppressed item by item with
  the same complementary rule within parents;
* tambon × H3 differencing: a published tambon total minus the published H3 cells lying wholly
  inside it must not reveal 1-9 households (:func:`differencing_audit`);
  :func:`protect_levels` suppresses further cells until the audit passes.

:func:`protect_levels` runs at build time over every level (so protection can use the whole
country) and stores the result as ``dc_suppressed``/``dc_reason`` columns; :func:`suppress`,
called on every public response, re-applies the primary rule with the current setting, honours
the stored flags and re-checks the complementary rule within the rows it is given.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from service.vocabulary import ADMIN_LEVELS

log = logging.getLogger(__name__)

ROOT = "__root__"
#: the one reason the public is given: "primary" vs "complementary" would itself tell which
#: areas hold fewer than the minimum households
PUBLIC_REASON = "withheld"
#: reason code -> (Thai, English) label for legends and API documentation
REASONS: dict[str, tuple[str, str]] = {
    PUBLIC_REASON: ("ปกปิดเพื่อคุ้มครองข้อมูลส่วนบุคคล",
                    "withheld to protect personal data (small areas and the areas that "
                    "would let them be recovered)"),
    "primary": ("มีครัวเรือนน้อยกว่าเกณฑ์ (ปกปิดเพื่อคุ้มครองข้อมูลส่วนบุคคล)",
                "fewer households than the disclosure threshold"),
    "complementary": ("ปกปิดเพิ่มเพื่อไม่ให้คำนวณย้อนกลับจากยอดรวมได้",
                      "suppressed so a small area cannot be recovered from totals"),
    "differencing": ("ปกปิดเพื่อไม่ให้คำนวณส่วนต่างระหว่างตำบลกับช่องหกเหลี่ยมได้",
                     "suppressed so tambon minus H3 cells cannot reveal a small count"),
}
#: identity columns never nulled
_KEEP = {"level", "code", "parent_code", "name_th", "name_en", "province_code", "cell",
         "pop_raster", "suppressed", "suppression_reason", "dc_suppressed", "dc_reason",
         "ckey"}
#: households with any member in the area (analysis/aggregate.py): the count the threshold
#: applies to, so a member recorded in another village or cell never escapes it
PRESENT = "n_hh_present"
_GROUP_ITEMS = ("n_poor_{g}", "sum_c_poor_{g}", "h_{g}", "m0_{g}")
_PROGRAMME_ITEMS = ("n_cov_{p}", "n_excl_{p}", "n_incl_err_{p}", "cov_{p}")


def _group_keys(frame: pd.DataFrame, parents: Any = "parent_code") -> pd.Series:
    if isinstance(parents, str):
        keys = frame[parents] if parents in frame else pd.Series(None, index=frame.index)
    else:
        keys = pd.Series(parents, index=frame.index)
    return keys.astype(object).where(keys.notna(), ROOT)


def complementary(values: pd.Series, suppressed: pd.Series, groups: pd.Series, *,
                  min_households: int,
                  parent_suppressed: pd.Series | None = None) -> pd.Series:
    """Return ``suppressed`` extended so every parent group is protected.

    A group is protected when it has no suppressed member, or at least two whose values sum
    to ``min_households`` or more; and, when its parent is suppressed
    (``parent_suppressed``, aligned to rows), at least one suppressed member. Published
    members are added smallest first (ties by position, so the result is deterministic).
    """
    sup = suppressed.to_numpy(dtype=bool).copy()
    vals = values.fillna(0).to_numpy(dtype=np.float64)
    codes, uniques = pd.factorize(groups, sort=False)
    n_groups = len(uniques)
    psup = (np.zeros(len(sup), dtype=bool) if parent_suppressed is None
            else parent_suppressed.fillna(False).to_numpy(dtype=bool))
    need_parent = np.zeros(n_groups, dtype=bool)
    np.logical_or.at(need_parent, codes, psup)
    order = np.lexsort((np.arange(len(vals)), vals))  # smallest value first
    for _ in range(len(sup) + 1):
        count = np.bincount(codes, weights=sup, minlength=n_groups)
        total = np.bincount(codes, weights=np.where(sup, vals, 0.0), minlength=n_groups)
        bad = ((count == 1) | ((count > 0) & (total < min_households))
               | (need_parent & (count == 0)))
        open_ = np.bincount(codes, weights=~sup, minlength=n_groups) > 0
        fix = bad & open_
        if not fix.any():
            break
        # first published member (in value order) of every group that needs one more
        cand = order[~sup[order] & fix[codes[order]]]
        _, first = np.unique(codes[cand], return_index=True)
        sup[cand[first]] = True
    return pd.Series(sup, index=suppressed.index)


def _families(frame: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """(denominator column, dependent columns) of group rates and programme coverage."""
    fams: list[tuple[str, list[str]]] = []
    for col in frame.columns:
        if col.startswith("n_elig_"):
            p = col[len("n_elig_"):]
            fams.append((col, [t.format(p=p) for t in _PROGRAMME_ITEMS
                               if t.format(p=p) in frame]))
        elif col.startswith("n_poor_") and col != "n_poor_households":
            g = col[len("n_poor_"):]
            if f"n_{g}" in frame:
                fams.append((f"n_{g}", [t.format(g=g) for t in _GROUP_ITEMS
                                        if t.format(g=g) in frame]))
    return fams


def _null_columns(frame: pd.DataFrame, columns: list[str], mask: pd.Series) -> None:
    for col in columns:
        series = frame[col]
        if pd.api.types.is_integer_dtype(series.dtype) or pd.api.types.is_bool_dtype(
                series.dtype):
            series = series.astype("Int64")
        elif not pd.api.types.is_float_dtype(series.dtype):
            series = series.astype(object)
        frame[col] = series.mask(mask.to_numpy())


def small_areas(frame: pd.DataFrame, min_households: int) -> pd.Series:
    """Primary suppression: areas resting on 1 to ``min_households - 1`` households, counting
    a household in every area where any of its members is (``n_hh_present``); tables made
    before that column existed: also any area with persons but no first member."""
    n = frame["n_households"].astype("Float64").fillna(0)
    small = (n > 0) & (n < min_households)
    if PRESENT in frame:
        present = frame[PRESENT].astype("Float64").fillna(0)
        small |= (present > 0) & (present < min_households)
    elif "n_persons" in frame:
        small |= (n == 0) & (frame["n_persons"].astype("Float64").fillna(0) > 0)
    return small.fillna(False).astype(bool)


def suppress(areas: pd.DataFrame, *, min_households: int, level: str | None = None,
             parents: pd.DataFrame | None = None, detailed_reasons: bool = False,
             perturb_counts: bool = True) -> pd.DataFrame:
    """Public copy of an area table with small areas suppressed.

    Parameters
    ----------
    areas : DataFrame
        Area statistics (CONTRACT §3) of one level; ``n_households`` is required.
    min_households : int
        Threshold (setting ``min_cell_households``).
    level : str, optional
        Level name, only used in log messages.
    parents : DataFrame, optional
        The parent level's public table (output of this function, with ``code`` and
        ``suppressed``): children of a suppressed parent are protected too.

    detailed_reasons : bool
        Give ``primary``/``complementary``/``differencing`` (build-time flags, audits)
        instead of the one public reason ``withheld``.
    perturb_counts : bool
        Apply the cell-key perturbation (:func:`perturb`) to the published rows when the
        table carries ``ckey`` (default; the column is dropped from the result).

    Returns
    -------
    DataFrame
        A copy with ``suppressed`` (bool) and ``suppression_reason`` (``withheld`` or None);
        every count, ratio and coordinate of a suppressed row is null, as are group rates
        and coverage built on too few people; published counts are perturbed.
    """
    if "n_households" not in areas:
        raise ValueError("suppress needs the n_households column")
    if min_households < 1:
        raise ValueError("min_households must be at least 1")
    out = areas.copy()
    n = out["n_households"].astype("Float64").fillna(0)
    primary = small_areas(out, min_households)
    stored = (out["dc_suppressed"].fillna(False).astype(bool) if "dc_suppressed" in out
              else pd.Series(False, index=out.index))
    groups = _group_keys(out)
    parent_sup = None
    if parents is not None and "suppressed" in parents and "parent_code" in out:
        sup_codes = set(parents.loc[parents["suppressed"].astype(bool), "code"])
        parent_sup = out["parent_code"].isin(sup_codes)
    sup = complementary(n, primary | stored, groups, min_households=min_households,
                        parent_suppressed=parent_sup)
    reason = pd.Series(None, index=out.index, dtype=object)
    reason[sup] = "complementary"
    if "dc_reason" in out:
        reason = reason.where(~(stored & out["dc_reason"].notna()), out.get("dc_reason"))
    reason[primary] = "primary"
    out["suppressed"] = sup
    out["suppression_reason"] = reason

    # item suppression of rates on small sub-populations
    for denom, items in _families(out):
        d = out[denom].astype("Float64").fillna(0)
        small = ((d > 0) & (d < min_households)).astype(bool)
        hidden = complementary(d, small | sup, groups, min_households=min_households)
        _null_columns(out, items, hidden & ~sup)
    data_cols = [c for c in out.columns if c not in _KEEP]
    _null_columns(out, data_cols, sup)
    # published datasets (TPMAP tables): items hidden at import, over the whole country
    from service.analysis.disclosure_published import apply_hidden

    out = apply_hidden(out)
    if sup.any():
        log.debug("%s: %d of %d areas suppressed (%d primary)", level or "areas",
                  int(sup.sum()), len(out), int(primary.sum()))
    if not detailed_reasons:
        out["suppression_reason"] = out["suppression_reason"].where(~sup, PUBLIC_REASON)
    if perturb_counts:
        out = perturb(out)
    return out


# -- cell-key perturbation (ONS Census 2021 / ABS TableBuilder) ---------------------------------
#: perturbation of a count v >= 3 by its cell key: -2..+2 with probabilities 10/20/40/20/10 %
#: (over the 256 keys); small counts 1 and 2 are published as 0 or 3 (never as 1 or 2)
_SHIFTS = np.repeat(np.array([-2, -1, 0, 1, 2]), [26, 51, 102, 51, 26])


def _column_salt(name: str) -> int:
    import hashlib

    return hashlib.sha256(name.encode()).digest()[0]


def perturbed_values(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The published value of each count for its cell key 0-255 (the perturbation table).

    0 stays 0 (no person, nothing to protect); 1 -> 0 or 3 (half each), 2 -> 0 (1/3) or 3;
    v >= 3 -> v + shift(key), with 1 and 2 moved to 0 and 3. Deterministic: the same cell
    (same persons, so the same key) always gets the same value, so repeating a query, or
    finding the cell again in another table, gives nothing new."""
    v = values.astype(np.int64)
    k = keys.astype(np.int64) % 256
    out = v + _SHIFTS[k]
    out = np.where(v == 1, np.where(k < 128, 0, 3), out)
    out = np.where(v == 2, np.where(k < 85, 0, 3), out)
    out = np.where((v >= 3) & (out == 1), 0, out)
    out = np.where((v >= 3) & (out == 2), 3, out)
    return np.where(v <= 0, v, np.maximum(out, 0))


#: household totals are protected by the threshold (primary, complementary and differencing
#: suppression) and published exactly: every other count is perturbed
EXACT = frozenset({"n_households", PRESENT})


def count_columns(frame: pd.DataFrame) -> list[str]:
    """Perturbed counts: every integer ``n_*``/``pnl_*`` column but the household totals."""
    return [c for c in frame.columns
            if c.startswith(("n_", "pnl_")) and c not in _KEEP and c not in EXACT
            and (pd.api.types.is_integer_dtype(frame[c].dtype)
                 or (pd.api.types.is_float_dtype(frame[c].dtype) and not c.endswith("_rate")))]


def perturb(frame: pd.DataFrame) -> pd.DataFrame:
    """Cell-key perturbation of every published count of an area table that has ``ckey``
    (tables built from persons; published TPMAP tables have none and are returned as they
    are), then sums of scores scaled and ratios recomputed from the perturbed counts
    (h, a, m0, group rates, coverage, survey gap, panel exit rate). Suppressed rows (null)
    stay null. The cell key itself is dropped: with it the noise could be undone."""
    if "ckey" not in frame:
        return frame
    out = frame.copy()
    base = pd.to_numeric(out["ckey"], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    shown = ~out["suppressed"].fillna(False).to_numpy(dtype=bool) if "suppressed" in out \
        else np.ones(len(out), dtype=bool)
    true_counts: dict[str, np.ndarray] = {}
    for col in count_columns(out):
        raw = pd.to_numeric(out[col], errors="coerce")
        valid = raw.notna().to_numpy() & shown
        if not valid.any():
            continue
        vals = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        true_counts[col] = vals
        new = vals.copy()
        new[valid] = perturbed_values(vals[valid].astype(np.int64),
                                      (base[valid] + _column_salt(col)) % 256)
        series = pd.Series(new, index=out.index)
        if pd.api.types.is_integer_dtype(out[col].dtype):
            series = series.round().astype("Int64")
        out[col] = series
    if "n_persons" in true_counts and "n_households" in out:
        # never fewer persons shown than (exact) households, nor more scored than persons
        out["n_persons"] = out["n_persons"].where(
            ~(out["n_persons"] < out["n_households"]).fillna(False), out["n_households"])
        if "n_scored" in true_counts:
            out["n_scored"] = out["n_scored"].where(
                ~(out["n_scored"] > out["n_persons"]).fillna(False), out["n_persons"])
    # sums of deprivation scores follow their counts (the intensity a is kept)
    for col in [c for c in out.columns if c.startswith("sum_c_poor")]:
        count = "n_poor" + col[len("sum_c_poor"):]
        if count in true_counts:
            before = true_counts[count]
            after = pd.to_numeric(out[count], errors="coerce").to_numpy(dtype=np.float64,
                                                                        na_value=np.nan)
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = np.where(before > 0, after / before, np.nan)
            out[col] = pd.to_numeric(out[col], errors="coerce") * factor
    _recompute_ratios(out)
    return out.drop(columns=["ckey"])


def _recompute_ratios(out: pd.DataFrame) -> None:
    import polars as pl

    from service.analysis.mpi import ratio_exprs

    counts = [c for c in out.columns if c.startswith(("n_", "sum_c_poor"))]
    names = [e.meta.output_name() for e in ratio_exprs(counts)]
    present = [n for n in names if n in out.columns]
    if present:
        narrow = pl.from_pandas(out[counts].astype("float64"))
        ratios = narrow.select(ratio_exprs(counts)).select(present).to_pandas()
        for n in present:
            out[n] = ratios[n].to_numpy()
    if "survey_gap" in out and "pop_raster" in out and "n_persons" in out:
        pop = pd.to_numeric(out["pop_raster"], errors="coerce")
        gap = 1 - pd.to_numeric(out["n_persons"], errors="coerce") / pop
        out["survey_gap"] = gap.where(out["survey_gap"].notna())
    if {"pnl_exit_rate", "pnl_hh_exited", "pnl_hh_persistent"} <= set(out.columns):
        ex = pd.to_numeric(out["pnl_hh_exited"], errors="coerce")
        den = ex + pd.to_numeric(out["pnl_hh_persistent"], errors="coerce")
        out["pnl_exit_rate"] = (ex / den.where(den > 0)).astype("float64")


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (pd.NA / NaN -> None, numpy scalars -> Python)."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row in records:
        for key, value in row.items():
            if isinstance(value, np.generic):
                row[key] = value.item()
            if isinstance(value, float) and math.isnan(value):
                row[key] = None
    return records


# -- tambon x H3 differencing ----------------------------------------------------------------
def cells_within(cell_tambons: pd.DataFrame, tambon_geometries: Mapping[str, Any] | None,
                 candidates: pd.DataFrame) -> pd.Series:
    """For ``candidates`` (cell, tambon, cell code), whether the cell lies wholly in the tambon.

    Without geometries, a cell whose households all lie in one tambon counts as inside it (an
    over-estimate of what an attacker can use, so the audit errs on the safe side).
    """
    if tambon_geometries is None or candidates.empty:
        return pd.Series(True, index=candidates.index)
    import h3
    import shapely

    polys = np.array([shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)])
                      for c in candidates["code"]], dtype=object)
    geoms = np.array([tambon_geometries.get(t) for t in candidates["tambon"]], dtype=object)
    known = np.array([g is not None for g in geoms])
    inside = np.zeros(len(candidates), dtype=bool)
    if known.any():
        shapely.prepare(geoms[known])
        inside[known] = shapely.contains(geoms[known], polys[known])
    return pd.Series(inside, index=candidates.index)


def differencing_audit(tambons: pd.DataFrame, h3_cells: pd.DataFrame, *, min_households: int,
                       cell_tambons: pd.DataFrame,
                       tambon_geometries: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Tambons whose published total minus the published H3 cells wholly inside reveals 1 to
    ``min_households - 1`` households.

    Parameters
    ----------
    tambons, h3_cells : DataFrame
        ``code``, ``n_households`` and optionally ``suppressed`` (public view).
    cell_tambons : DataFrame
        ``code`` (cell hex), ``tambon``, ``n_households``: households of each cell per tambon.
        Only a cell whose households all lie in one tambon can be inside it, which limits the
        geometric test to few cells.
    tambon_geometries : mapping code -> shapely geometry, optional
        For the exact "cell wholly inside tambon" test (see :func:`cells_within`).

    Returns
    -------
    DataFrame
        ``tambon``, ``n_households``, ``n_inside``, ``n_cells_inside``, ``difference``,
        ``cells`` (list of the inside cell codes) for every violation.
    """
    def published(frame: pd.DataFrame) -> pd.DataFrame:
        if "suppressed" in frame:
            return frame[~frame["suppressed"].fillna(False).astype(bool)]
        return frame

    tam = published(tambons)[["code", "n_households"]]
    cells = published(h3_cells)[["code", "n_households"]]
    n_tambons = cell_tambons.groupby("code")["tambon"].transform("nunique")
    single = cell_tambons[n_tambons == 1][["code", "tambon"]].drop_duplicates()
    cand = single.merge(cells, on="code").merge(
        tam.rename(columns={"code": "tambon", "n_households": "n_tambon"}), on="tambon")
    empty = pd.DataFrame({"tambon": pd.Series(dtype=object),
                          "n_households": pd.Series(dtype="int64"),
                          "n_inside": pd.Series(dtype="int64"),
                          "n_cells_inside": pd.Series(dtype="int64"),
                          "difference": pd.Series(dtype="int64"),
                          "cells": pd.Series(dtype=object)})
    if cand.empty:
        return empty
    # a published tambon can only leak if even the larger "all households in T" set leaves a
    # difference below the threshold (the geometric inside set is a subset of it)
    upper = cand.groupby("tambon")["n_households"].sum()
    diff_upper = cand.groupby("tambon")["n_tambon"].first() - upper
    suspects = diff_upper.index[diff_upper < min_households]
    cand = cand[cand["tambon"].isin(suspects)].reset_index(drop=True)
    if cand.empty:
        return empty
    cand = cand[cells_within(cell_tambons, tambon_geometries, cand).to_numpy()]
    if cand.empty:
        return empty
    per = cand.groupby("tambon").agg(n_households=("n_tambon", "first"),
                                     n_inside=("n_households", "sum"),
                                     n_cells_inside=("code", "size"),
                                     cells=("code", list)).reset_index()
    per["difference"] = per["n_households"] - per["n_inside"]
    bad = per[(per["difference"] > 0) & (per["difference"] < min_households)]
    return bad[list(empty.columns)].reset_index(drop=True)


# -- build-time protection over every level -------------------------------------------------
ADMIN_CHAIN = ADMIN_LEVELS
H3_CHAIN = ("h3_r6", "h3_r7", "h3_r8", "h3_r9")


def protect_levels(tables: Mapping[str, pd.DataFrame], *, min_households: int,
                   cell_tambons: Mapping[str, pd.DataFrame] | None = None,
                   tambon_geometries: Mapping[str, Any] | None = None,
                   max_rounds: int = 20) -> dict[str, pd.DataFrame]:
    """Suppression flags for every level, computed with the whole country in view.

    Returns, per level, a frame ``code``, ``dc_suppressed``, ``dc_reason`` (to be stored
    with the area table). Levels are processed parent before child so a suppressed parent
    protects its children; then every H3 level is audited against tambons and further cells
    are suppressed (smallest first) until no difference reveals 1-9 households.
    """
    flags: dict[str, pd.DataFrame] = {}

    def run_chain(chain: tuple[str, ...], forced: Mapping[str, set[str]]) -> None:
        parent_public: pd.DataFrame | None = None
        for level in chain:
            if level not in tables:
                continue
            frame = tables[level][[c for c in ("code", "parent_code", "n_households", PRESENT,
                                               "n_persons") if c in tables[level]]].copy()
            extra = forced.get(level, set())
            frame["dc_suppressed"] = frame["code"].isin(extra)
            frame["dc_reason"] = pd.Series(None, index=frame.index, dtype=object).mask(
                frame["dc_suppressed"], "differencing")
            public = suppress(frame, min_households=min_households, level=level,
                              parents=parent_public, detailed_reasons=True,
                              perturb_counts=False)
            flags[level] = public[["code", "suppressed", "suppression_reason"]].rename(
                columns={"suppressed": "dc_suppressed", "suppression_reason": "dc_reason"})
            parent_public = public[["code", "suppressed"]]

    run_chain(ADMIN_CHAIN, {})
    forced: dict[str, set[str]] = {level: set() for level in H3_CHAIN}
    for round_no in range(max_rounds):
        run_chain(H3_CHAIN, forced)
        if cell_tambons is None or "tambon" not in tables:
            break
        tam_public = tables["tambon"][["code", "n_households"]].assign(
            suppressed=flags["tambon"]["dc_suppressed"].to_numpy())
        added = 0
        for level in H3_CHAIN:
            if level not in tables or level not in cell_tambons:
                continue
            cells = tables[level][["code", "n_households"]].assign(
                suppressed=flags[level]["dc_suppressed"].to_numpy())
            bad = differencing_audit(tam_public, cells, min_households=min_households,
                                     cell_tambons=cell_tambons[level],
                                     tambon_geometries=tambon_geometries)
            if bad.empty:
                continue
            sizes = cells.set_index("code")["n_households"]
            for row in bad.itertuples():
                # suppress the smallest inside cells until the hidden part reaches the threshold
                hidden = int(row.difference)
                for code in sorted(row.cells, key=lambda c: (sizes[c], c)):
                    if hidden >= min_households:
                        break
                    forced[level].add(code)
                    hidden += int(sizes[code])
                    added += 1
        if added == 0:
            break
        log.info("differencing audit round %d: %d more H3 cells suppressed", round_no + 1,
                 added)
    else:
        log.warning("differencing protection did not converge in %d rounds", max_rounds)
    return flags


# public names of the helpers service.access.views applies country-wide decisions with
#: columns never nulled (identity, flags)
IDENTITY_COLUMNS = frozenset(_KEEP)
rate_families = _families
null_columns = _null_columns


def cover_with_parents(cells: pd.DataFrame, parents: Mapping[str, pd.DataFrame], *,
                       resolution: int) -> pd.DataFrame:
    """The coarser H3 cells drawn beneath a public H3 layer, so that cells left out (fewer
    than ``min_households`` households, or suppressed to protect them) are covered by their
    nearest publishable parent instead of reading as "nobody lives here".

    ``cells`` is the fine table at ``resolution`` (every row, suppressed ones too: only their
    codes are used, to find the ancestors in scope); ``parents`` maps ``"h3_r<k>"`` to that
    level's *public* table (output of :func:`suppress`). Returned: the published (not
    suppressed) rows of every given coarser level that are ancestors of a fine cell, coarsest
    first, with their own published figures and a column ``cover_resolution``.

    Why every published ancestor and not only the parents of suppressed cells: a parent drawn
    only where a child is hidden would say "a small household group lives in here"; drawing
    all of them says nothing the coarser public map does not already show, and its figures
    are that map's figures (no new sum, so no differencing).
    """
    import h3

    if cells.empty or not parents:
        return pd.DataFrame(columns=[*cells.columns, "cover_resolution"])
    codes = cells["code"].astype(str).tolist()
    out = []
    for level in sorted(parents, key=lambda lv: int(lv.rsplit("r", 1)[1])):
        res = int(level.rsplit("r", 1)[1])
        if res >= resolution:
            continue
        table = parents[level]
        if table.empty:
            continue
        ancestors = {h3.cell_to_parent(c, res) for c in codes}
        published = ~table["suppressed"].fillna(False).astype(bool) if "suppressed" in table \
            else pd.Series(True, index=table.index)
        rows = table[table["code"].astype(str).isin(ancestors) & published]
        if not rows.empty:
            out.append(rows.assign(cover_resolution=res))
    if not out:
        return pd.DataFrame(columns=[*cells.columns, "cover_resolution"])
    return pd.concat(out, ignore_index=True)
