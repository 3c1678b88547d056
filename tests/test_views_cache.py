"""The public rows of a province are cached (service.access.views): per store, never shared
by two stores, even when a store is gone and a new one gets its ``id``."""

from __future__ import annotations

import gc

import pandas as pd

from service.access.views import public_view
from service.render.sources import FrameSource


def _source(persons: int) -> FrameSource:
    frame = pd.DataFrame({
        "level": "tambon", "code": ["TH750101", "TH750102"], "parent_code": "TH7501",
        "name_th": ["ก", "ข"], "name_en": ["a", "b"], "province_code": "TH75",
        "n_households": [40, 50], "n_hh_present": [40, 50],
        "n_persons": [persons, persons + 10], "n_scored": [persons, persons + 10]})
    src = FrameSource()
    src.add("demo", "v1", "tambon", frame)
    return src


def test_two_stores_with_the_same_names_never_share_cached_public_rows():
    # with id()-based keys this failed as soon as CPython reused a freed source's id (it
    # usually does within a few rounds; not guaranteed, so the reuse itself is not asserted)
    for persons in range(100, 3100, 100):  # earlier sources are gone: their ids get reused
        src = _source(persons)
        rows = public_view(src, "demo", "tambon", version="v1", province="TH75",
                           min_households=10)
        assert list(rows["n_persons"]) == [persons, persons + 10]
        del src
        gc.collect()


def test_a_cached_answer_is_the_same_answer():
    src = _source(100)
    one = public_view(src, "demo", "tambon", version="v1", province="TH75", min_households=10)
    two = public_view(src, "demo", "tambon", version="v1", province="TH75", min_households=10)
    pd.testing.assert_frame_equal(one, two)
    one.loc[0, "n_persons"] = -1  # a caller changing its copy changes no one else's
    three = public_view(src, "demo", "tambon", version="v1", province="TH75",
                        min_households=10)
    assert three.loc[0, "n_persons"] == 100
