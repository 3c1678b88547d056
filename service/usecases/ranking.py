"""Priority ranking of areas, village target lists and master-plan KPIs, as the principal may
see them (service.access.views): a caller who may see a province's detail ranks the
unsuppressed rows, anyone else the public rows (suppressed areas are left out and counted
in the notes). Intervals (``n_boot``) use the household bootstrap for callers who may see the
province's detail and binomial resampling of the visible area table otherwise.

Plain values in, plain values out; no Flask, no click."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from service.access import views
from service.access.principal import Principal, can_see_province
from service.errors import InvalidInput, NotFound
from service.usecases.datasets import previous_version, resolve_version, versions_by_round
from service.vocabulary import LEVELS

if TYPE_CHECKING:
    from service.services import Services

#: levels areas are ranked at (every level below the country)
RANK_LEVELS = tuple(lv for lv in LEVELS if lv != "country")


def check_rank_level(level: str) -> str:
    if level not in RANK_LEVELS:
        raise InvalidInput(f"level must be one of {', '.join(RANK_LEVELS)} "
                           "/ ระดับพื้นที่ไม่ถูกต้อง", column="level")
    return level


def parse_pairs(values: Iterable[str], what: str) -> dict[str, float]:
    """``("ind22=5000", "ind8=80000")`` -> dict; clear error naming the bad item."""
    out: dict[str, float] = {}
    for item in values:
        key, sep, raw = str(item).partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            out[key.strip()] = float(raw.replace(",", ""))
        except ValueError:
            raise InvalidInput(f"{what} {item!r} must look like name=number "
                               f"/ ต้องอยู่ในรูป ชื่อ=ตัวเลข", column=what) from None
    return out


def rank_config(path: str | None = None, overrides: Mapping[str, float] | None = None) -> Any:
    from service.analysis.rank import load_config

    return load_config(path, dict(overrides) if overrides else None)


# -- what a caller may rank --------------------------------------------------------------------
def visible_areas(s: Services, p: Principal, dataset: str, version: str, level: str,
                  province: str | None) -> tuple[pd.DataFrame, list[str]]:
    """The level's rows as ``p`` may see them, suppressed rows dropped (and counted)."""
    frame = views.area_view(s.store, dataset, level, p, version=version, province=province,
                            min_households=s.min_households, cache=s.views)
    notes = []
    if "suppressed" in frame:
        hidden = views.suppressed_mask(frame)
        if hidden.any():
            notes.append(f"{int(hidden.sum()):,} areas suppressed for disclosure control "
                         "are not ranked / พื้นที่ที่ถูกปกปิดข้อมูลไม่ถูกจัดลำดับ")
        frame = frame[~hidden]
    return frame.reset_index(drop=True), notes


@dataclass
class RankingInputs:
    dataset: str
    version: Any
    previous_version: Any | None
    areas: pd.DataFrame
    previous: pd.DataFrame | None
    notes: list[str]


def ranking_inputs(s: Services, p: Principal, dataset: str, version: str | None, level: str,
                   province: str | None) -> RankingInputs:
    """Visible areas of this round and of the previous one (for trends)."""
    v = resolve_version(s.store, dataset, version)
    areas, notes = visible_areas(s, p, dataset, v.id, level, province)
    if areas.empty:
        raise NotFound(f"no {level} areas to rank / ไม่มีพื้นที่ระดับ {level} ให้จัดลำดับ")
    prev_v = previous_version(s.store, dataset, v)
    previous = None
    if prev_v is not None:
        try:
            previous, _ = visible_areas(s, p, dataset, prev_v.id, level, province)
        except NotFound:
            previous = None
    return RankingInputs(dataset, v, prev_v, areas, previous, notes)


def rank(store: Any, inputs: RankingInputs, config: Any, *, level: str,
         province: str | None, n_boot: int = 0, top_n: int = 10, seed: int = 0,
         household_bootstrap: bool = False) -> pd.DataFrame:
    """Ranked areas with explanations; ``n_boot`` adds intervals and P(top N) (household
    bootstrap when ``household_bootstrap`` and a province is given)."""
    from service.analysis.rank import rank_areas

    if n_boot and province and household_bootstrap:
        from service.analysis.uncertainty import bootstrap_ranking

        persons = store.read_persons(inputs.dataset, province, version=inputs.version.id)
        ranked = bootstrap_ranking(persons, level=level, config=config, areas=inputs.areas,
                                   previous=inputs.previous, n_boot=n_boot, top_n=top_n,
                                   seed=seed)
        return ranked[ranked["code"].isin(inputs.areas["code"])]
    if n_boot:  # from the (possibly public) area table only: never touches household data
        from service.analysis.uncertainty import resample_areas

        return resample_areas(inputs.areas, config=config, previous=inputs.previous,
                              n_boot=n_boot, top_n=top_n, seed=seed)
    return rank_areas(inputs.areas, config, previous=inputs.previous)


def ranking(s: Services, p: Principal, dataset: str, version: str | None, level: str,
            province: str | None, config: Any, *, n_boot: int = 0, top_n: int = 10
            ) -> tuple[pd.DataFrame, RankingInputs]:
    """The ranking a caller may see (rankings API and page)."""
    inputs = ranking_inputs(s, p, dataset, version, level, province)
    ranked = rank(s.store, inputs, config, level=level, province=province, n_boot=n_boot,
                  top_n=top_n, household_bootstrap=bool(province) and can_see_province(
                      p, province))
    return ranked, inputs


def target_villages(s: Services, p: Principal, dataset: str, version: str | None,
                    province: str | None, area: str | None, config: Any
                    ) -> tuple[pd.DataFrame, RankingInputs, str | None]:
    """Village target list (ranked) of a province, or of an amphoe/tambon by ``area``."""
    from service.analysis.rank import rank_areas
    from service.analysis.targets import village_list
    from service.usecases.datasets import area_names
    from service.vocabulary import ADMIN_CODE

    if area:
        if not ADMIN_CODE.fullmatch(area):
            raise InvalidInput("area must be an admin code such as TH5001 / รหัสพื้นที่ไม่ถูกต้อง",
                               column="area")
        province = area[:4]
    inputs = ranking_inputs(s, p, dataset, version, "village", province)
    areas = inputs.areas
    if area:
        areas = areas[areas["code"].str.startswith(area)]
        if areas.empty:
            raise NotFound(f"no villages in {area} / ไม่พบหมู่บ้านใน {area}")
    ranked = rank_areas(areas, config, previous=inputs.previous, explain=False)
    names = area_names(s.store, dataset, inputs.version.id, province)
    return village_list(areas, ranking=ranked, names=names), inputs, province


# -- KPIs ------------------------------------------------------------------------------------------
def kpi(s: Services, p: Principal, dataset: str, province: str | None,
        baseline_round: int | None) -> tuple[pd.DataFrame, list[int]]:
    """Master-plan KPIs per province across rounds (MPI per group vs -10 %/5 years, coverage
    vs 80/90/100 %), with ``view`` telling detail from public rows."""
    from service.analysis.kpi import kpi_table
    from service.usecases.published import kpi_api

    published = kpi_api(s, p, dataset, province, baseline_round)  # TPMAP hook: no persons
    if published is not None:
        return published
    rounds = []
    for rnd, v in versions_by_round(s.store, dataset).items():
        try:
            frame = views.area_view(s.store, dataset, "province", p, version=v.id,
                                    min_households=s.min_households, cache=s.views)
        except NotFound:
            continue
        if province:
            frame = frame[frame["code"] == province]
        rounds.append((rnd, frame))
    table = kpi_table(rounds, baseline_round=baseline_round)
    if not table.empty:
        table["view"] = ["detail" if can_see_province(p, c) else "public"
                         for c in table["province_code"]]
    return table, [r for r, _ in rounds]


def kpi_progress(s: Services, p: Principal, dataset: str, province: str | None,
                 baseline_round: int | None) -> tuple[pd.DataFrame, list[int]]:
    """Master-plan KPIs of the country and each province over the real sequence of rounds:
    baseline, latest, 5-year target, pace needed, on track / behind, trend."""
    from service.analysis.kpi import kpi_progress as progress

    by_round = versions_by_round(s.store, dataset)
    rounds = [(rnd, pd.concat([views.area_view(s.store, dataset, lvl, p, version=v.id,
                                               min_households=s.min_households, cache=s.views)
                               for lvl in ("country", "province")], ignore_index=True))
              for rnd, v in by_round.items()]
    table = progress(rounds, baseline_round=baseline_round)
    if province:
        table = table[table["code"].isin(["TH", province])]
    return table, sorted(by_round)


def load_areas(store: Any, dataset: str, level: str, *, province: str | None,
               version: str | None = None, with_previous: bool = True,
               ) -> tuple[pd.DataFrame, pd.DataFrame | None, Any, Any | None]:
    """(areas, previous-round areas or None, version, previous version) with an operator's
    full access (command line)."""
    check_rank_level(level)
    v = store.version(dataset, version)
    areas = store.read_areas(dataset, level, version=v.id, province=province)
    prev_v = previous_version(store, dataset, v) if with_previous else None
    previous = None
    if prev_v is not None:
        try:
            previous = store.read_areas(dataset, level, version=prev_v.id, province=province)
        except NotFound:
            previous = None
    return areas, previous, v, prev_v


def operator_ranking(store: Any, dataset: str, level: str, *, province: str | None,
                     version: str | None, config: Any, n_boot: int = 0, top_n: int = 10,
                     seed: int = 0) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(ranked areas, summary) with an operator's full access (``chipao rank``): every
    province's detail, household bootstrap with a province."""
    areas, previous, v, prev_v = load_areas(store, dataset, level, province=province,
                                            version=version)
    if areas.empty:
        raise NotFound(f"no {level} areas found for {province or 'the country'} "
                       f"/ ไม่พบพื้นที่ระดับ {level}")
    ranked = rank(store, RankingInputs(dataset, v, prev_v, areas, previous, []), config,
                  level=level, province=province, n_boot=n_boot, top_n=top_n, seed=seed,
                  household_bootstrap=True)
    meta = {"dataset": dataset, "version": v.id, "round": v.round, "level": level,
            "uncertainty": (ranked.attrs.get("bootstrap") or {}).get("method"),
            "province": province or "all",
            "previous_version": prev_v.id if prev_v is not None else None,
            "areas": len(ranked), "notes": ranked.attrs.get("notes", [])}
    return ranked, meta
