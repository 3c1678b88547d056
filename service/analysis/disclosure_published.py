"""Disclosure control of published area tables (datasets of ``kind: "published"``, such as
TPMAP's public tables imported by :mod:`service.ingest.tpmap`).

Such a dataset has no persons, only counts per area, and the source itself published small
counts (TPMAP: 1-4 target poor in about 19,000 villages). The public view applies Chipao's own
rules, computed once over the whole country at import (:func:`protect_published`) and stored as
the version's public tables:

1. rows: primary and complementary suppression on households, a suppressed parent protecting
   its children (:func:`service.analysis.disclosure.protect_levels`, as for person datasets);
2. items: every count of 1 to ``min_households - 1`` is hidden, and so is a count whose
   complement within its total is that small (e.g. 28 of 30 persons failing an indicator:
   2 pass); the counts of a dimension mask are hidden where the households behind them
   (``n_dep_hh_m<mask>``) are fewer than the minimum;
3. dimension masks: from the 31 union counts of one area anyone can recover, by
   inclusion-exclusion, the persons deprived in *exactly* each combination of dimensions (the
   31 "atoms"). Per area, masks are published in a fixed order (all five dimensions, then
   single dimensions, pairs, triples, fours) and a mask is left out when, with those already
   published, it would determine a small atom exactly (linear span test) or differ from a
   published nested mask by 1 to ``min_households - 1``; the four mask families (target poor,
   deprived, deprived and registered, deprived households) are decided together;
4. complementary suppression of every hidden item within its parent (at least two hidden
   siblings holding at least the minimum, and a hidden parent item hides one child item), so
   no village is recovered from its tambon minus its published siblings.

What is not guaranteed (docs/ingest.md): bounds from non-negativity (interval disclosure)
and combinations of hidden items across several parents at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
import polars as pl

from service.analysis.disclosure import protect_levels
from service.vocabulary import ADMIN_LEVELS

log = logging.getLogger(__name__)

DIMENSIONS = ("health", "living", "education", "income", "accessibility")
MASK_BITS = tuple(range(1, 32))  # mask "10000" = 16 (health), "00001" = 1 (accessibility)
FAMILIES = ("n_tp_m{m}", "n_dep_m{m}", "n_dep_reg_m{m}", "n_dep_hh_m{m}")
CHAIN = ADMIN_LEVELS
IDENTITY = ("level", "code", "parent_code", "name_th", "name_en", "province_code")
#: columns never nulled item by item (identity, location, means over the whole area)
_NOT_COUNTS = set(IDENTITY) | {"lon", "lat", "happiness", "dc_suppressed", "dc_reason",
                               "dc_hidden"}


def mask_name(bits: int) -> str:
    return format(bits, "05b")


def count_columns() -> list[str]:
    """Count columns of a published dataset's area tables, in the order of the ``dc_hidden``
    bitmaps (CONTRACT-WAVE2 §3; changing it needs a new import format version)."""
    cols = ["n_households", "n_persons", "n_welfare_card_registered", "n_welfare_card",
            "n_elderly", "n_disabled", "n_chronic"]
    cols += [f"n_app_ind{n}" for n in range(1, 32)] + [f"n_fail_ind{n}" for n in range(1, 32)]
    cols += ["n_target_poor", "n_deprived_any"] + [f"n_target_poor_{d}" for d in DIMENSIONS]
    cols += [f"n_tp_ind{n}" for n in range(1, 32)]
    for s in MASK_BITS:
        m = mask_name(s)
        cols += [f"n_tp_m{m}", f"n_dep_m{m}", f"n_dep_reg_m{m}", f"n_dep_hh_m{m}"]
    return cols


HIDDEN = "dc_hidden"


def encode_hidden(hidden: np.ndarray) -> list[str | None]:
    """Per row, the hidden items as a hex bitmap over :func:`count_columns` (None: none)."""
    packed = np.packbits(hidden, axis=1)
    any_hidden = np.asarray(hidden.any(axis=1), dtype=bool)
    return [packed[i].tobytes().hex() if any_hidden[i] else None for i in range(len(packed))]


def apply_hidden(frame: pd.DataFrame) -> pd.DataFrame:
    """Null the items the stored ``dc_hidden`` bitmaps hide (public view of a published
    dataset; rows of person datasets have no such column and are returned as they are).
    The bitmap column is dropped. Called by :func:`service.analysis.disclosure.suppress`
    and by the public views, so every public path applies the import-time decisions."""
    if HIDDEN not in frame.columns:
        return frame
    cols = count_columns()
    width = (len(cols) + 7) // 8
    codes = frame[HIDDEN]
    present = codes.notna().to_numpy()
    bits = np.zeros((len(frame), len(cols)), dtype=bool)
    if present.any():
        raw = b"".join(bytes.fromhex(str(x)) for x in codes[present])
        packed = np.frombuffer(raw, dtype=np.uint8).reshape(-1, width)
        bits[present] = np.unpackbits(packed, axis=1)[:, :len(cols)].astype(bool)
    out = frame.drop(columns=[HIDDEN])
    for i, col in enumerate(cols):
        if col in out.columns and bits[:, i].any():
            series = out[col]
            if not pd.api.types.is_float_dtype(series.dtype):
                series = series.astype("Int64")
            out[col] = series.mask(bits[:, i])
    return out


#: incidence of masks (rows, S = 1..31) on atoms (columns, T = 1..31): S hits T
INCIDENCE = np.array([[1.0 if s & t else 0.0 for t in MASK_BITS] for s in MASK_BITS])
#: publication order: all dimensions first, then single dimensions, pairs, triples, fours
ORDER = sorted(MASK_BITS, key=lambda s: (s != 31, bin(s).count("1"), -s))
NESTED = {s: [t for t in MASK_BITS if t != s and (t & s == t or t & s == s)]
          for s in MASK_BITS}
NESTED_IDX = {s: np.array([t - 1 for t in ts]) for s, ts in NESTED.items()}


def atoms(unions: np.ndarray) -> np.ndarray:
    """Persons (or households) deprived in exactly each combination of dimensions.

    ``unions`` (n, 31): column S-1 = count deprived in any dimension of mask S. Returns
    (n, 31): column T-1 = count whose deprived dimensions are exactly T (Möbius inversion of
    ``G(R) = U(all) - U(complement of R)``, the count deprived only within R)."""
    n = unions.shape[0]
    u = np.zeros((n, 32))
    u[:, 1:] = unions
    g = u[:, [31]] - u[:, [31 ^ r for r in range(32)]]
    for b in range(5):
        bit = 1 << b
        idx = np.array([t for t in range(32) if t & bit])
        g[:, idx] = g[:, idx] - g[:, idx ^ bit]
    return g[:, 1:]


def choose_masks(families: list[np.ndarray], available: np.ndarray, *,
                 min_households: int, chunk: int = 8192) -> np.ndarray:
    """Which masks each area may publish (n, 31 bool), see the module docstring, rule 3.

    ``families``: (n, 31) union counts per family; ``available``: (n, 31) masks not already
    hidden item by item."""
    n = available.shape[0]
    k = float(min_households)
    small = np.zeros((n, 31), dtype=bool)
    for fam in families:
        a = atoms(np.nan_to_num(fam))
        small |= (a > 0.5) & (a < k - 0.5)
    chosen = np.zeros((n, 31), dtype=bool)
    filled = [np.nan_to_num(fam) for fam in families]
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        m = sl.stop - sl.start
        basis = np.zeros((m, 31, 31))
        rank = np.zeros(m, dtype=np.int64)
        diag = np.zeros((m, 31))
        rows = np.arange(m)
        for s in ORDER:
            j = s - 1
            ok = available[sl, j].copy()
            if not ok.any():
                continue
            v = INCIDENCE[j]
            coef = basis @ v                       # (m, 31): zero rows beyond the rank
            resid = v[None, :] - np.matmul(coef[:, None, :], basis)[:, 0, :]
            norm = np.linalg.norm(resid, axis=1)
            new = norm > 1e-9
            q = np.where(new[:, None], resid / np.where(new, norm, 1.0)[:, None], 0.0)
            nd = diag + q * q
            reveals = (small[sl] & (nd > 1 - 1e-9)).any(axis=1) & new
            nested = NESTED_IDX[s]
            shown = chosen[sl][:, nested]
            for fam in filled:
                d = np.abs(fam[sl, j][:, None] - fam[sl][:, nested])
                reveals |= (shown & (d > 0.5) & (d < k - 0.5)).any(axis=1)
            take = ok & ~reveals
            grow = take & new
            basis[rows[grow], rank[grow]] = q[grow]
            rank[grow] += 1
            diag[grow] = nd[grow]
            chosen[sl, j] = take
    return chosen


def _pairs(columns: set[str]) -> list[tuple[str, str]]:
    """(part, total) pairs whose complement (total - part) must not be small either."""
    pairs = [(c, "n_persons") for c in ("n_welfare_card_registered", "n_welfare_card",
                                        "n_elderly", "n_disabled", "n_chronic")]
    pairs += [(f"n_app_ind{n}", "n_persons") for n in range(1, 32)]
    pairs += [(f"n_fail_ind{n}", f"n_app_ind{n}") for n in range(1, 32)]
    pairs += [(f"n_tp_ind{n}", "n_tp_m11111") for n in range(1, 32)]
    pairs += [(f"n_tp_ind{n}", f"n_fail_ind{n}") for n in range(1, 32)]
    pairs.append(("n_tp_m11111", "n_welfare_card"))
    for s in MASK_BITS:
        m = mask_name(s)
        pairs += [(f"n_tp_m{m}", f"n_dep_m{m}"), (f"n_dep_reg_m{m}", f"n_dep_m{m}"),
                  (f"n_dep_m{m}", "n_persons"), (f"n_dep_hh_m{m}", "n_households")]
    return [(p, t) for p, t in pairs if p in columns and t in columns]


#: alias column -> the column it equals (hidden together)
def _aliases(columns: set[str]) -> dict[str, str]:
    out = {"n_target_poor": "n_tp_m11111", "n_deprived_any": "n_dep_m11111"}
    for i, d in enumerate(DIMENSIONS):
        out[f"n_target_poor_{d}"] = f"n_tp_m{mask_name(1 << (4 - i))}"
    return {a: c for a, c in out.items() if a in columns and c in columns}


def _hidden_items(frame: pd.DataFrame, counts: list[str], *, min_households: int
                  ) -> np.ndarray:
    """Rules 2 and 3 (before complementary suppression): (n, len(counts)) bool."""
    k = min_households
    col = {c: i for i, c in enumerate(counts)}
    values = frame[counts].to_numpy(dtype=np.float64, na_value=np.nan)
    hidden = (values > 0) & (values < k)
    for part, total in _pairs(set(counts)):
        diff = values[:, col[total]] - values[:, col[part]]
        hidden[:, col[part]] |= (diff > 0) & (diff < k)
    masks = [mask_name(s) for s in MASK_BITS]
    if all(f"n_tp_m{m}" in col for m in masks):
        fam_cols = [[col[f.format(m=m)] for m in masks] for f in FAMILIES]
        hh = values[:, fam_cols[3]]
        few = (hh > 0) & (hh < k)
        for fc in fam_cols:
            hidden[:, fc] |= few
        if "n_tp_m11111" in col:
            # the full mask's per-indicator counts rest on the same households
            for n in range(1, 32):
                if f"n_tp_ind{n}" in col:
                    hidden[:, col[f"n_tp_ind{n}"]] |= few[:, 30]
        for a, c in _aliases(set(counts)).items():
            hidden[:, col[c]] |= hidden[:, col[a]]
        available = ~np.logical_or.reduce([hidden[:, fc] for fc in fam_cols])
        chosen = choose_masks([values[:, fc] for fc in fam_cols], available,
                              min_households=k)
        for fc in fam_cols:
            hidden[:, fc] |= ~chosen
    return hidden


def complementary_matrix(values: np.ndarray, hidden: np.ndarray, groups: np.ndarray, *,
                         min_households: int, parent_hidden: np.ndarray | None = None
                         ) -> np.ndarray:
    """:func:`service.analysis.disclosure.complementary` for many columns at once (same
    rule: per group and column, no hidden member, or at least two holding at least the
    minimum; a hidden parent item needs a hidden child item; published members added
    smallest first, ties by position). ``groups``: integer group per row (0..G-1).

    Each column is one pass: in every group that breaks the rule the published members,
    smallest first, are added up to the first one after which it holds (cumulative sums
    within groups) instead of one member per group and round."""
    hid = hidden.copy()
    n = len(groups)
    n_groups = int(groups.max()) + 1 if n else 0
    vals = np.nan_to_num(values)
    positions = np.arange(n)
    for j in range(values.shape[1]):
        col, v = hid[:, j], vals[:, j]
        count = np.bincount(groups, weights=col, minlength=n_groups)
        need = (np.zeros(n_groups, dtype=bool) if parent_hidden is None else
                np.bincount(groups, weights=parent_hidden[:, j], minlength=n_groups) > 0)
        if not col.any() and not need.any():
            continue
        total = np.bincount(groups, weights=np.where(col, v, 0.0), minlength=n_groups)
        bad = (count == 1) | ((count > 0) & (total < min_households)) | (need & (count == 0))
        if not bad.any():
            continue
        idx = np.flatnonzero(~col & bad[groups])
        if not len(idx):
            continue
        order = idx[np.lexsort((positions[idx], v[idx], groups[idx]))]
        g = groups[order]
        starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
        lengths = np.diff(np.r_[starts, len(order)])
        csum = np.cumsum(v[order])
        base = np.repeat(np.r_[0.0, csum][starts], lengths)
        k = np.arange(len(order)) - np.repeat(starts, lengths) + 1
        ok = ((count[g] + k) >= 2) & ((total[g] + csum - base) >= min_households)
        big = len(order) + 1
        first_ok = np.minimum.reduceat(np.where(ok, k, big), starts)
        col[order[k <= np.repeat(first_ok, lengths)]] = True
    return hid


REMAINDER_SUFFIX = "-municipal"


def _remainders(tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame | None:
    """Per amphoe, its counts minus its tambons' (TPMAP's municipal pseudo-tambons)."""
    if "amphoe" not in tables or "tambon" not in tables:
        return None
    counts = [c for c in tables["tambon"].columns if c not in _NOT_COUNTS]
    summed = tables["tambon"].group_by("parent_code").agg([pl.col(c).sum() for c in counts])
    rest = tables["amphoe"].select("code", *counts).join(
        summed, left_on="code", right_on="parent_code", how="left", suffix="_t").select(
        (pl.col("code") + REMAINDER_SUFFIX).alias("code"), pl.col("code").alias("parent_code"),
        pl.col("code").str.slice(0, 4).alias("province_code"),
        *[(pl.col(c) - pl.col(f"{c}_t").fill_null(0)).alias(c) for c in counts])
    rest = rest.filter(pl.any_horizontal([pl.col(c) != 0 for c in counts]))
    return rest if rest.height else None


def protect_published(tables: Mapping[str, pl.DataFrame], *, min_households: int
                      ) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    """Build-time protection of a published dataset's admin levels.

    Returns ``(flags, public)``: per level ``code, dc_suppressed, dc_reason, dc_hidden``
    (row decisions and hidden items, stored with the area table) and the public table (same columns, hidden items and
    suppressed rows null, plus ``suppressed``, ``suppression_reason``)."""
    tables = dict(tables)
    remainder = _remainders(tables)
    if remainder is not None:
        # an amphoe minus its tambons = its municipal pseudo-tambons: protected like a tambon
        # that is never shown
        tables["tambon"] = pl.concat([tables["tambon"], remainder], how="diagonal_relaxed")
    narrow = {level: t.select("code", "parent_code", "n_households").to_pandas()
              for level, t in tables.items() if level in CHAIN}
    row_flags = protect_levels(narrow, min_households=min_households)
    flags: dict[str, pl.DataFrame] = {}
    public: dict[str, pl.DataFrame] = {}
    above: tuple[pd.Index, list[str], np.ndarray] | None = None  # parent codes, columns, hidden
    for level in CHAIN:
        if level not in tables:
            continue
        table = tables[level]
        codes = table["code"].to_numpy().astype(str)
        rf = row_flags[level].set_index("code").reindex(codes)
        sup = rf["dc_suppressed"].fillna(True).to_numpy(dtype=bool)
        reason = pd.Series(rf["dc_reason"].to_numpy(dtype=object)).where(sup, None)
        counts = [c for c in table.columns if c not in _NOT_COUNTS]
        frame = table.select(counts).to_pandas()
        hidden = _hidden_items(frame, counts, min_households=min_households)
        aliases = _aliases(set(counts))
        col = {c: i for i, c in enumerate(counts)}
        own = [i for c, i in col.items() if c not in aliases]
        parents = table["parent_code"].fill_null("__root__").to_numpy().astype(str)
        groups, _ = pd.factorize(parents)
        parent_hidden = None
        if above is not None:
            p_codes, p_cols, p_hidden = above
            pidx = p_codes.get_indexer(parents)
            pcol = pd.Index(p_cols).get_indexer([counts[i] for i in own])
            parent_hidden = np.zeros((len(codes), len(own)), dtype=bool)
            okr, okc = pidx >= 0, pcol >= 0
            parent_hidden[np.ix_(okr, okc)] = p_hidden[np.ix_(pidx[okr], pcol[okc])]
        values = frame[[counts[i] for i in own]].to_numpy(dtype=np.float64, na_value=np.nan)
        ext = complementary_matrix(values, hidden[:, own] | sup[:, None], groups,
                                   min_households=min_households, parent_hidden=parent_hidden)
        hidden[:, own] = ext
        for a, c in aliases.items():
            hidden[:, col[a]] = hidden[:, col[c]]
        hidden |= sup[:, None]
        above = (pd.Index(codes), counts, hidden)
        order = count_columns()
        bitmap = np.zeros((len(codes), len(order)), dtype=bool)
        for j, c in enumerate(order):
            if c in col:
                bitmap[:, j] = hidden[:, col[c]]
        flags[level] = pl.DataFrame({"code": codes, "dc_suppressed": sup,
                                     "dc_reason": reason.tolist(),
                                     HIDDEN: encode_hidden(bitmap)},
                                    schema={"code": pl.String, "dc_suppressed": pl.Boolean,
                                            "dc_reason": pl.String, HIDDEN: pl.String})
        out = table.with_columns(
            [pl.when(pl.Series(hidden[:, col[c]])).then(None).otherwise(pl.col(c)).alias(c)
             for c in counts]
            + [pl.when(pl.Series(sup)).then(None).otherwise(pl.col(c)).alias(c)
               for c in ("happiness", "lon", "lat") if c in table.columns]
            + [pl.Series("suppressed", sup),
               pl.Series("suppression_reason", reason.tolist(), dtype=pl.String)])
        if level == "tambon" and remainder is not None:
            real = ~table["code"].str.ends_with(REMAINDER_SUFFIX)
            out = out.filter(real)
            flags[level] = flags[level].filter(real)
        public[level] = out
        log.info("published %s: %d of %d rows suppressed, %.1f %% of items hidden", level,
                 int(sup.sum()), len(out), 100.0 * hidden.mean() if hidden.size else 0.0)
    return flags, public
