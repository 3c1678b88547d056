"""THE view of area tables: who sees which rows, disclosure control applied in one place.

The API, the map pages and their values, ``chipao export --public``, the home page and every
public ranking read area tables through :func:`area_view` (or :func:`public_view`, the same
with the public principal). Rules (docs/CONTRACT.md §3a, §5):

* a national caller sees every area unsuppressed;
* a provincial caller sees its own province unsuppressed and every other area exactly as the
  public does;
* the public sees :func:`service.analysis.disclosure.suppress` applied with the decisions
  taken over the whole country (:func:`public_mask`, computed once per dataset version and
  level), then filtered: a row's public figures never depend on which rows were asked for,
  so two requests can never be combined into a finer view.

``store`` is anything with the reading methods of :class:`service.store.store.Store`
(``read_areas(dataset, level, version=, province=, columns=)`` and ``area_columns``);
:class:`service.render.sources.FrameSource` serves the same from memory.

Pure: no Flask. Raises :mod:`service.errors` exceptions.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from service.access.principal import PUBLIC, Principal
from service.errors import InvalidInput, NotFound
from service.lru import LRU
from service.vocabulary import H3_LEVELS, PARENT_LEVEL

#: levels too large to list for the whole country (a province or parent is required)
BIG_LEVELS: tuple[str, ...] = ("village", "h3_r8", "h3_r9")
#: masks and whole small levels: 9 levels x 2 kinds x 2 versions
VIEW_CACHE_ITEMS = 40


class AreaReader(Protocol):
    def read_areas(self, dataset: str, level: str, *, version: str | None = None,
                   province: str | None = None, columns: Sequence[str] | None = None
                   ) -> pd.DataFrame: ...

    def area_columns(self, dataset: str, level: str, *, version: str | None = None
                     ) -> list[str]: ...


#: public rows of one province and level (what a province page, export or map values read
#: again and again): disclosure control + perturbation of a province's table take 0.3-1 s,
#: so they are kept, bounded in bytes (shared by the stores of a process, keyed by store)
PROVINCE_ROWS_BYTES = 256 * 1024 * 1024
_PROVINCE_ROWS: LRU[pd.DataFrame] = LRU(
    max_bytes=PROVINCE_ROWS_BYTES,
    sizeof=lambda frame: int(frame.memory_usage(deep=False).sum()) + 100 * len(frame))


class ViewCache(LRU[pd.DataFrame]):
    """The LRU of public masks and whole public levels, and optionally the on-disk map
    artefacts (service.render.artefacts.Artefacts) where the masks of ``store``'s versions
    are kept across restarts (a mask of another store is never written there)."""

    def __init__(self, *, artefacts: Any = None, store: Any = None,
                 max_items: int = VIEW_CACHE_ITEMS) -> None:
        super().__init__(max_items=max_items)
        self.artefacts = artefacts
        self.store = store

    def disk_for(self, store: Any) -> Any:
        """The artefacts directory when ``store`` is this cache's store (or a map source
        over it), else None."""
        if self.artefacts is None or self.store is None:
            return None
        if store is self.store or getattr(store, "store", None) is self.store:
            return self.artefacts
        return None


def new_view_cache(*, artefacts: Any = None, store: Any = None) -> ViewCache:
    """The cache of public masks and whole public levels (one per app); with ``artefacts``
    the masks of ``store`` persist on disk across restarts."""
    return ViewCache(artefacts=artefacts, store=store)


#: used when a caller gives no cache (command line, tests): masks are still shared
_DEFAULT_CACHE: LRU[pd.DataFrame] = new_view_cache()


_STORE_TOKENS = itertools.count(1)


def _store_key(store: Any) -> Hashable:
    """Cache keys hold the store, so two stores (tests, two apps) never share entries: a
    number given to each store once and never reused (an ``id`` is reused once a store is
    gone, and a module-level cache would then serve the old store's rows)."""
    token = getattr(store, "_chipao_cache_token", None)
    if token is None:
        token = next(_STORE_TOKENS)
        try:
            store._chipao_cache_token = token
        except AttributeError:  # an object without attributes of its own
            return id(store)
    return token


def require_scope(level: str, scoped: bool) -> None:
    """422 for a whole-country listing of a big level (village, H3 r8/r9)."""
    if level in BIG_LEVELS and not scoped:
        raise InvalidInput(
            f"{level} is listed one province at a time: add province=TH50 (or parent=...) "
            f"/ ระดับ {level} แสดงได้ทีละจังหวัด กรุณาระบุ province เช่น TH50 (หรือ parent)",
            column="province")


# -- the public decisions, country-wide --------------------------------------------------------
def public_mask(store: AreaReader, dataset: str, version: str, level: str, *,
                min_households: int, cache: LRU[pd.DataFrame] | None = None
                ) -> pd.DataFrame:
    """What the public view of ``level`` hides, decided over the whole country.

    ``suppress`` runs once per (dataset, version, level) on a narrow table: the identity
    columns, ``n_households``, the stored flags and the denominator of every rate family,
    plus a constant sentinel per family that comes back null exactly where that family's
    rates are hidden. The result (indexed by code, only rows with something hidden) holds
    ``suppressed``, ``suppression_reason`` and ``hidden:<denominator>``; applied by
    :func:`apply_mask` to any subset of rows it gives exactly the whole-country public
    rows (national H3 r9: a few hundred MB once instead of 7.6 GB per build)."""
    from service.analysis.disclosure import rate_families, suppress

    cache = _DEFAULT_CACHE if cache is None else cache

    def make() -> pd.DataFrame:
        names = store.area_columns(dataset, level, version=version)
        families = [(denom, items[0]) for denom, items in
                    rate_families(pd.DataFrame(columns=names)) if items]
        # n_hh_present (households with any member here) decides primary suppression
        wanted = ["code", "parent_code", "n_households", "n_hh_present", "n_persons",
                  "dc_suppressed", "dc_reason"]
        columns = [c for c in wanted if c in names] + [d for d, _ in families]
        narrow = store.read_areas(dataset, level, version=version,
                                  columns=list(dict.fromkeys(columns)))
        for _, sentinel in families:
            narrow[sentinel] = 1.0
        # parents as integer keys: the same groups, hashed several times faster
        keys, uniques = pd.factorize(narrow.get("parent_code", pd.Series(
            None, index=narrow.index, dtype=object)))
        narrow["parent_code"] = pd.Series(keys, index=narrow.index, dtype="Int64").mask(
            keys < 0)
        parents = None
        parent_level = PARENT_LEVEL.get(level)
        if parent_level is not None:
            try:
                above = public_mask(store, dataset, version, parent_level,
                                    min_households=min_households, cache=cache)
            except NotFound:  # parent level not computed for this dataset
                above = None
            if above is not None:
                codes = above.index[above["suppressed"].to_numpy(dtype=bool)]
                found = pd.Index(uniques).get_indexer(codes)
                parents = pd.DataFrame({"code": pd.array(found[found >= 0], dtype="Int64"),
                                        "suppressed": True})
        public = suppress(narrow, min_households=min_households, level=level,
                          parents=parents)
        sup = public["suppressed"].to_numpy(dtype=bool)
        mask = pd.DataFrame({"suppressed": sup,
                             "suppression_reason": public["suppression_reason"].to_numpy()},
                            index=pd.Index(public["code"].to_numpy(), name="code"))
        keep = sup.copy()
        for denom, sentinel in families:
            hidden = public[sentinel].isna().to_numpy()
            mask[f"hidden:{denom}"] = hidden
            keep |= hidden
        return mask[keep]

    disk = cache.disk_for(store) if isinstance(cache, ViewCache) else None

    def load_or_make() -> pd.DataFrame:
        if disk is None:
            return make()
        from service.render.artefacts import mask_name

        name = mask_name(level, min_households)
        stored = disk.read_frame(dataset, version, name)
        if stored is not None:
            return stored
        built = make()
        disk.write_frame(dataset, version, name, built)
        return built

    return cache.get_or_build(("mask", _store_key(store), dataset, version, level,
                               min_households), load_or_make)


def apply_mask(raw: pd.DataFrame, mask: pd.DataFrame) -> pd.DataFrame:
    """``raw`` (any rows of a level) as the public sees them, using :func:`public_mask`:
    the same nulling as ``disclosure.suppress`` with the decisions taken country-wide."""
    from service.analysis.disclosure import IDENTITY_COLUMNS, null_columns, rate_families

    out = raw.copy()
    found = mask.reindex(out["code"].to_numpy())
    sup = pd.Series(found["suppressed"].eq(True).to_numpy(), index=out.index)
    out["suppressed"] = sup
    out["suppression_reason"] = pd.Series(found["suppression_reason"].to_numpy(dtype=object),
                                          index=out.index, dtype=object)
    for denom, items in rate_families(out):
        column = f"hidden:{denom}"
        if column in found:
            hidden = pd.Series(found[column].eq(True).to_numpy(), index=out.index)
            null_columns(out, items, hidden & ~sup)
    null_columns(out, [c for c in out.columns if c not in IDENTITY_COLUMNS], sup)
    # published datasets (TPMAP tables): items hidden at import over the whole country
    from service.analysis.disclosure import PUBLIC_REASON, perturb
    from service.analysis.disclosure_published import apply_hidden

    # one reason for the public; every published count but the household totals perturbed
    # with its cell key (SEC, docs/security.md)
    out["suppression_reason"] = out["suppression_reason"].where(~sup, PUBLIC_REASON)
    return perturb(apply_hidden(out))


def _resolve(store: Any, dataset: str, version: str | None) -> str:
    if version is not None:
        return version
    current = getattr(store, "current", None)
    if current is None:
        raise NotFound(f"no version of dataset {dataset!r} was given / ไม่ระบุรุ่นข้อมูล")
    return str(current(dataset).id)


def _select(frame: pd.DataFrame, columns: Sequence[str] | None) -> pd.DataFrame:
    if columns is None:
        return frame
    keep = [c for c in frame.columns if c in set(columns) or c in (
        "code", "suppressed", "suppression_reason", "view")]
    return frame[keep]


def _public_rows(store: AreaReader, dataset: str, version: str, level: str, province: str | None,
                 *, min_households: int, cache: LRU[pd.DataFrame]) -> pd.DataFrame:
    """Public rows of a level: of one province (read with the filter pushed down to
    Parquet; cached, bounded in bytes) or of the whole country (cached; meant for the small
    levels). Versions never change, so a cached answer is the answer."""
    mask = public_mask(store, dataset, version, level, min_households=min_households,
                       cache=cache)
    if province is not None:
        def build() -> pd.DataFrame:
            raw = store.read_areas(dataset, level, version=version, province=province)
            return apply_mask(raw[raw["province_code"] == province].reset_index(drop=True),
                              mask)

        return _PROVINCE_ROWS.get_or_build(
            ("province", _store_key(store), dataset, version, level, province,
             min_households), build)
    return cache.get_or_build(
        ("whole", _store_key(store), dataset, version, level, min_households),
        lambda: apply_mask(store.read_areas(dataset, level, version=version), mask))


def area_view(store: AreaReader, dataset: str, level: str, principal: Principal, *,
              version: str | None = None, province: str | None = None,
              parent: str | None = None, columns: Sequence[str] | None = None,
              min_households: int, cache: LRU[pd.DataFrame] | None = None,
              whole_country: bool = False) -> pd.DataFrame:
    """Rows of ``level`` as ``principal`` may see them, with a ``view`` column (``detail`` =
    unsuppressed, ``public`` = disclosure-controlled); non-national views are sorted by code
    and carry ``suppressed`` and ``suppression_reason`` (national: the stored table as is).

    With ``province`` only that province's rows are returned, read with the filter pushed
    down to Parquet for every view (0.4 s instead of 8-30 s and 7.6 GB for national H3
    r9); public rows always use the country-wide decisions (:func:`public_mask`), so a
    row's answer never depends on the filter. ``parent`` keeps the children of one area.
    Without a province a non-national caller gets 422 for :data:`BIG_LEVELS` (the public
    table of national H3 r9 took 7.6 GB) unless ``whole_country`` (operators' exports).
    """
    cache = _DEFAULT_CACHE if cache is None else cache
    version = _resolve(store, dataset, version)
    if principal.role == "national":
        frame = _without_cell_key(store.read_areas(dataset, level, version=version,
                                                   province=province))
        if province is not None:
            frame = frame[frame["province_code"] == province]
        frame = frame.assign(view="detail")
    else:
        frame = _mixed_view(store, dataset, version, level, principal, province,
                            min_households=min_households, cache=cache,
                            whole_country=whole_country)
    if parent is not None:
        frame = frame[frame["parent_code"] == parent]
    return _select(frame.reset_index(drop=True), columns)


def _mixed_view(store: AreaReader, dataset: str, version: str, level: str,
                principal: Principal, province: str | None, *, min_households: int,
                cache: LRU[pd.DataFrame], whole_country: bool) -> pd.DataFrame:
    own_province = principal.own_province
    if province is not None:
        if own_province != province:
            return _public_rows(store, dataset, version, level, province,
                                min_households=min_households, cache=cache
                                ).assign(view="public")
        own, public_codes = _own_rows(store, dataset, version, level, province)
        if not public_codes:
            return own
        # border cells of an older version (no parts stored): the public row
        public = _public_rows(store, dataset, version, level, province,
                              min_households=min_households, cache=cache)
        others = public[public["code"].isin(public_codes)].assign(view="public")
    else:
        if not whole_country:
            require_scope(level, False)  # never a whole-country public table of a big level
        public = _public_rows(store, dataset, version, level, None,
                              min_households=min_households, cache=cache).assign(view="public")
        if not own_province:
            return public
        own, _ = _own_rows(store, dataset, version, level, own_province)
        # every other row as the public sees it (border cells whose own part is shown in
        # detail appear once, as that part)
        others = public[~public["code"].isin(own["code"])]
    out = pd.concat([own, others], ignore_index=True, sort=False)
    return out.sort_values("code", kind="stable").reset_index(drop=True)


def _own_rows(store: AreaReader, dataset: str, version: str, level: str, province: str
              ) -> tuple[pd.DataFrame, set[str]]:
    """(the province's rows in detail, codes of its rows to show as the public does).

    An H3 cell on a province border holds households of two provinces: the province sees
    its own part of it in detail (:func:`border_parts`), whichever province holds most of
    the cell, and nothing more of the other's households than the public does."""
    raw = _without_cell_key(store.read_areas(dataset, level, version=version,
                                             province=province))
    own = raw[raw["province_code"] == province]
    parts, border = border_parts(store, dataset, version, level, province)
    public_codes: set[str] = set()
    if border:
        whole = own["code"].isin(border)
        if parts is None:  # a version without parts: its border cells as the public sees
            public_codes = set(own.loc[whole, "code"])
        own = own[~whole]
        if parts is not None and not parts.empty:
            own = pd.concat([own, parts.reindex(columns=own.columns)], ignore_index=True)
    own = own.assign(view="detail")
    for column in ("suppressed", "suppression_reason"):  # same shape as the mixed view
        if column not in own:
            own[column] = None
    return own.sort_values("code", kind="stable").reset_index(drop=True), public_codes


def border_parts(store: Any, dataset: str, version: str, level: str, province: str | None
                 ) -> tuple[pd.DataFrame | None, set[str]]:
    """(``province``'s parts of the border H3 cells it shares with another province, the
    codes of those cells). Parts are None for a version built before they were stored
    (then the codes come from the build's audit table) or a source without them."""
    if level not in H3_LEVELS or not province:
        return None, set()
    reader = getattr(store, "read_partials", None)
    parts = reader(dataset, level, version=version, province=province) if reader else None
    if parts is not None:
        parts = _without_cell_key(parts[parts["province_code"] == province])
        return parts, set(parts["code"])
    codes = getattr(store, "border_codes", None)
    return None, (set(codes(dataset, level, version=version, province=province))
                  if codes else set())


def _without_cell_key(frame: pd.DataFrame) -> pd.DataFrame:
    """Detail rows without ``ckey``: the cell key is an internal of the public
    perturbation (with it the noise of the public figures could be undone)."""
    return frame.drop(columns=["ckey"], errors="ignore")


def suppressed_mask(frame: pd.DataFrame) -> pd.Series:
    """The rows of ``frame`` whose figures are withheld, as plain booleans: its ``suppressed``
    column with a missing value read as not suppressed (a row seen in detail has no decision);
    all False when the frame has no such column. The one reading of that column."""
    if "suppressed" not in frame:
        return pd.Series(False, index=frame.index)
    return frame["suppressed"].astype("boolean").fillna(False).astype(bool)


def listed_rows(frame: pd.DataFrame, level: str) -> pd.DataFrame:
    """The rows of ``level`` a listing or a file may carry (THE "published cells only" rule):
    on H3 levels a suppressed cell is left out entirely (no code, figure, polygon or reason),
    so which fine cells hold 1-9 households stays unknown (SEC, docs/security.md); admin
    areas keep their suppressed rows (named, figures withheld). The API listings, the cell
    pages and the exports (service.usecases.areas / exports) all apply it here."""
    if level not in H3_LEVELS or "suppressed" not in frame:
        return frame
    return frame[~suppressed_mask(frame)]


def public_view(store: AreaReader, dataset: str, level: str, *, version: str | None = None,
                province: str | None = None, parent: str | None = None,
                columns: Sequence[str] | None = None, min_households: int,
                cache: LRU[pd.DataFrame] | None = None,
                whole_country: bool = False) -> pd.DataFrame:
    """:func:`area_view` as the public sees it (every row disclosure-controlled)."""
    return area_view(store, dataset, level, PUBLIC, version=version, province=province,
                     parent=parent, columns=columns, min_households=min_households,
                     cache=cache, whole_country=whole_country)


def protect_rows(store: AreaReader, dataset: str, version: str, level: str,
                 frame: pd.DataFrame, principal: Principal | None, *, min_households: int,
                 cache: LRU[pd.DataFrame] | None = None) -> pd.DataFrame:
    """Rows already read (any subset of a level, possibly re-computed from stored counts,
    e.g. at another poverty cut-off) with disclosure control applied to the rows
    ``principal`` may not see in detail, using the same country-wide decisions as
    :func:`area_view`. Rows seen in detail get ``suppressed`` False."""
    from service.access.principal import needs_suppression

    if frame.empty:
        return frame
    principal = principal or PUBLIC
    provinces = (frame["province_code"].astype(str) if "province_code" in frame.columns
                 else frame["code"].astype(str).str[:4])
    hidden = provinces.map(lambda c: needs_suppression(principal, c)).to_numpy(dtype=bool)
    parts, border = border_parts(store, dataset, version, level, principal.own_province)
    if border:
        # border H3 cells seen in detail: the own part only (SEC); without stored parts
        # (older versions) the public figures
        frame = frame.copy()
        at_border = ~hidden & frame["code"].isin(border).to_numpy()
        if parts is None:
            hidden = hidden | at_border
        else:
            _replace_by_parts(frame, at_border, parts)
    if not hidden.any():
        out = frame.copy()
        out["suppressed"] = suppressed_mask(out)
        return out
    mask = public_mask(store, dataset, version, level, min_households=min_households,
                       cache=_DEFAULT_CACHE if cache is None else cache)
    if hidden.all():
        return apply_mask(frame, mask)
    seen = frame.loc[~hidden].copy()
    seen["suppressed"] = suppressed_mask(seen)
    return pd.concat([seen, apply_mask(frame.loc[hidden], mask)]).loc[frame.index]


def _replace_by_parts(frame: pd.DataFrame, rows: Any, parts: pd.DataFrame) -> None:
    """Figures of ``frame``'s ``rows`` (border cells) replaced, in place, by their part in
    ``parts``; columns the parts do not carry (panel, raster, flags) become null."""
    from service.analysis.disclosure import IDENTITY_COLUMNS

    index = frame.index[rows]
    found = parts.set_index("code").reindex(frame.loc[index, "code"].to_numpy())
    for column in frame.columns:
        if column in IDENTITY_COLUMNS or column in ("code", "cell"):
            continue
        if column in found.columns:
            values: Any = found[column].to_numpy()
        else:
            if frame[column].dtype.kind in "iub":
                frame[column] = frame[column].astype("float64")
            # a float column takes NaN, not a list of None (pandas 3 refuses that upcast)
            values = (np.full(len(index), np.nan) if frame[column].dtype.kind == "f"
                      else [None] * len(index))
        frame.loc[index, column] = values
