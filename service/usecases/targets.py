"""Target lists: villages (ranked, as the caller may see them) and poor households nearest
to exit first (personal data: the caller must be allowed the province's detail; callers
audit the read).

Plain values in, plain values out; no Flask, no click."""

from __future__ import annotations

from typing import Any

import pandas as pd

from service.access import views
from service.access.principal import Principal, require_detail
from service.errors import InvalidInput, NotFound
from service.usecases.datasets import area_names, previous_version
from service.vocabulary import ADMIN_CODE


def check_area(area: str) -> str:
    """``area`` if it is a province, amphoe, tambon or village code (422 otherwise)."""
    if not ADMIN_CODE.fullmatch(area or ""):
        raise InvalidInput("area must be an admin code such as TH50010101 "
                           "/ รหัสพื้นที่ไม่ถูกต้อง", column="area")
    return area


def households(store: Any, p: Principal, dataset: str, version: str, area: str
               ) -> pd.DataFrame:
    """Poor households of an admin area (service.analysis.targets.household_list)."""
    from service.analysis.targets import household_list

    check_area(area)
    require_detail(p, area[:4])
    return household_list(store.read_persons(dataset, area[:4], version=version), area=area)


def household_targets(store: Any, p: Principal, dataset: str, version: str, area: str
                      ) -> pd.DataFrame:
    """The household target list of an export (service.export.targets.household_targets)."""
    from service.export.targets import household_targets as targets

    require_detail(p, area[:4])
    return targets(store.read_persons(dataset, area[:4], version=version), area)


def village_targets(store: Any, p: Principal, dataset: str, v: Any, area: str, *,
                    min_households: int, cache: Any = None, spatial: bool = False
                    ) -> pd.DataFrame:
    """Village target list of a province, amphoe or tambon, ranked, from the villages as
    ``p`` may see them (public callers: the public view)."""
    from service.export.targets import village_targets as targets
    from service.export.targets import with_points

    province = area[:4]

    def view(version_id: str) -> pd.DataFrame:
        return views.area_view(store, dataset, "village", p, version=version_id,
                               province=province, min_households=min_households,
                               cache=cache)

    previous = None
    prev_v = previous_version(store, dataset, v)
    if prev_v is not None:
        try:
            previous = view(prev_v.id)
        except NotFound:
            previous = None
    frame = targets(view(v.id), area, previous=previous,
                    names=area_names(store, dataset, v.id, province))
    return with_points(frame) if spatial else frame
