"""`chipao bench load`: the mix is the review's (maps, API, pages, exports, random k from
the offered values); the benchmark itself is run by hand (docs/benchmarks.md), not timed
here."""

from __future__ import annotations

import random


def test_mix_holds_every_family_and_k_only_from_the_offered_values():
    from service.bench.load import FAMILIES, _expand, request_mix
    from service.render.map_page import K_CHOICES

    mix = request_mix("TH75", ["TH7501", "TH7502", "TH7503"], ["87658b670ffffff"],
                      ["TH750101"])
    assert {family for family, _ in mix} == set(FAMILIES)
    with_k = [path for _, path in mix if "{k}" in path]
    assert len(with_k) >= 3
    rng = random.Random(1)
    seen = {_expand(with_k[0], rng).rsplit("k=", 1)[1] for _ in range(200)}
    assert seen == {f"{k:g}" for k in K_CHOICES}
    pages = [path for family, path in mix if family == "pages"]
    assert any(p.startswith("/areas/") for p in pages) and any(p.startswith("/kpi") for p in pages)
    assert all(p.endswith(".csv") or ".csv?" in p for f, p in mix if f == "exports")
