"""Datasets and their versions (survey rounds): resolve, find the previous round, names.

Plain values in, plain values out; no Flask, no click."""

from __future__ import annotations

from typing import Any

from service.errors import NotFound


def resolve_version(store: Any, dataset: str, version: str | None) -> Any:
    """The Version asked for (current when ``version`` is None); 404 when unknown."""
    if version is None:
        return store.current(dataset)
    for v in store.versions(dataset):
        if v.id == version:
            return v
    raise NotFound(f"dataset {dataset!r} has no version {version!r} "
                   f"/ ไม่พบรุ่นข้อมูล {version!r} ของชุดข้อมูล {dataset!r}")


def previous_version(store: Any, dataset: str, version: Any) -> Any | None:
    """The newest ready version of an earlier round than ``version`` (None when none)."""
    earlier = [v for v in store.versions(dataset) if v.round < version.round]
    if not earlier:
        return None
    return max(earlier, key=lambda v: (v.round, v.created_at))


def versions_by_round(store: Any, dataset: str) -> dict[int, Any]:
    """round -> the newest version of that round, oldest round first; 404 when none."""
    by_round: dict[int, Any] = {}
    for v in sorted(store.versions(dataset), key=lambda v: (v.round, v.created_at)):
        by_round[v.round] = v
    if not by_round:
        raise NotFound(f"dataset {dataset!r} has no ready version / ไม่พบชุดข้อมูล {dataset!r}")
    return dict(sorted(by_round.items()))


def area_names(store: Any, dataset: str, version: str, province: str | None) -> dict[str, str]:
    """Province, amphoe and tambon names (public identity columns) of one province."""
    from service.analysis.targets import names_from_areas

    names: dict[str, str] = {}
    for lvl in ("province", "amphoe", "tambon"):
        try:
            names.update(names_from_areas(store.read_areas(dataset, lvl, version=version,
                                                           province=province)))
        except NotFound:
            continue
    return names


def dataset_names(store: Any) -> list[str]:
    return list(store.datasets())


def compare_rounds(store: Any, dataset: str, old: str | None, new: str | None, level: str, *,
                   province: str | None = None) -> tuple[Any, str, str]:
    """(change per area between two versions, old id, new id): ``new`` defaults to the
    current version, ``old`` to the newest other version (superseded ones included)."""
    from service.errors import InvalidInput
    from service.store import compare_versions

    new = new or store.current(dataset).id
    if old is None:
        older = [v for v in store.versions(dataset, superseded=True) if v.id != new]
        if not older:
            raise InvalidInput(f"dataset {dataset} has only one version "
                               "/ มีข้อมูลเพียงรุ่นเดียว", column="old")
        old = older[0].id
    return compare_versions(store, dataset, old, new, level, province=province), old, new
