"""What the public would see, checked (``chipao datasets audit``): no published area and no
difference between a published parent and its published children (admin chains, H3
chains, tambons minus the H3 cells inside them) reveals 1-9 households. Plain values in,
lines of the report out (``echo``); no click."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: (child, parent) level pairs whose differences are checked
CHAINS = (("province", "country"), ("amphoe", "province"), ("tambon", "amphoe"),
          ("village", "tambon"), ("h3_r9", "h3_r8"), ("h3_r8", "h3_r7"),
          ("h3_r7", "h3_r6"), ("h3_r6", "country"))


def audit_version(store: Any, settings: Any, dataset: str, version: str | None,
                  echo: Callable[[str], None] = print) -> int:
    """The number of disclosure problems of ``version`` (current when None); one line per
    check goes to ``echo``."""
    import pandas as pd

    from service.analysis.disclosure import differencing_audit, suppress
    from service.geo.boundaries import load_level
    from service.vocabulary import LEVELS

    v = store.version(dataset, version)
    minimum = int(settings.min_cell_households)
    public: dict[str, pd.DataFrame] = {}
    problems = 0
    for level in LEVELS:
        raw = store.read_areas(dataset, level, version=v.id,
                               columns=["code", "parent_code", "n_households",
                                        "dc_suppressed", "dc_reason"])
        public[level] = suppress(raw, min_households=minimum, level=level)
        shown = public[level]["n_households"].dropna()
        small = int(((shown > 0) & (shown < minimum)).sum())
        problems += small
        echo(f"{level:<9} {len(raw):>10,} areas, {int(public[level]['suppressed'].sum()):>10,}"
             f" suppressed, {small} shown below {minimum}")
    for child, parent in CHAINS:
        kids = public[child].copy()
        if parent == "country":
            kids["parent_code"] = "TH"
        shown = kids.groupby("parent_code")["n_households"].sum(min_count=0)
        hidden = kids.groupby("parent_code")["suppressed"].any()
        par = public[parent].set_index("code")["n_households"]
        codes = hidden.index[hidden.to_numpy()]
        diff = par.reindex(codes) - shown.reindex(codes).fillna(0)
        leaks = int(((diff > 0) & (diff < minimum)).sum())
        problems += leaks
        echo(f"{parent} minus published {child}: {len(codes):,} groups with suppressed "
             f"children, {leaks} reveal 1-{minimum - 1} households")
    tambons = load_level(settings.boundaries_dir, "tambon")
    geoms = dict(zip(tambons["code"], tambons.geometry.values, strict=True))
    for level in ("h3_r6", "h3_r7", "h3_r8", "h3_r9"):
        path = store.version_dir(dataset, v.id) / "audit" / f"cell_tambons_{level}.parquet"
        bad = differencing_audit(public["tambon"], public[level], min_households=minimum,
                                 cell_tambons=pd.read_parquet(path), tambon_geometries=geoms)
        problems += len(bad)
        echo(f"tambon minus {level} cells inside: {len(bad)} reveal 1-{minimum - 1} "
             "households")
    return problems
