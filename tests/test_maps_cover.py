"""Public H3 layers: cells left out for disclosure are covered by their published parents."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd

from service.analysis.disclosure import cover_with_parents, suppress


def _cells(res: int, n_households) -> pd.DataFrame:
    base = h3.latlng_to_cell(18.79, 98.98, 6)
    codes = sorted(h3.cell_to_children(base, res))[:len(n_households)]
    return pd.DataFrame({"level": f"h3_r{res}", "code": codes,
                         "parent_code": [h3.cell_to_parent(c, res - 1) for c in codes],
                         "n_households": n_households,
                         "n_poor": np.asarray(n_households) // 3})


def _aggregate(fine: pd.DataFrame, res: int) -> pd.DataFrame:
    parent = fine["code"].map(lambda c: h3.cell_to_parent(c, res))
    out = fine.groupby(parent)[["n_households", "n_poor"]].sum().reset_index()
    out["level"] = f"h3_r{res}"
    out["parent_code"] = out["code"].map(lambda c: h3.cell_to_parent(c, res - 1))
    return out


def test_every_published_ancestor_covers_the_layer_and_no_suppressed_one_does():
    rng = np.random.default_rng(0)
    fine = _cells(9, rng.choice([0, 3, 5, 12, 40], size=300))
    fine = fine[fine["n_households"] > 0].reset_index(drop=True)
    public_fine = suppress(fine, min_households=10)
    r8 = suppress(_aggregate(fine, 8), min_households=10)
    r7 = suppress(_aggregate(fine, 7), min_households=10)
    cover = cover_with_parents(fine, {"h3_r8": r8, "h3_r7": r7}, resolution=9)
    assert set(cover["cover_resolution"]) <= {7, 8}
    assert list(cover["cover_resolution"]) == sorted(cover["cover_resolution"])  # coarse first
    # only published figures of the coarser public tables, unchanged
    assert not cover["suppressed"].any()
    merged = cover.merge(pd.concat([r8, r7]), on="code", suffixes=("", "_pub"))
    assert (merged["n_households"] == merged["n_households_pub"]).all()
    # every hidden fine cell lies under a drawn parent (or its parents are all suppressed)
    drawn = set(cover["code"])
    hidden = public_fine.loc[public_fine["suppressed"], "code"]
    assert len(hidden) > 10
    published = set(r8.loc[~r8["suppressed"], "code"]) | set(r7.loc[~r7["suppressed"], "code"])
    for c in hidden:
        ancestors = {h3.cell_to_parent(c, 8), h3.cell_to_parent(c, 7)}
        assert ancestors & drawn or not ancestors & published
    # the parents drawn do not depend on which fine cells are small: all published ones
    assert drawn == published


def test_nothing_to_cover():
    empty = _cells(9, [])
    assert cover_with_parents(empty, {}, resolution=9).empty
