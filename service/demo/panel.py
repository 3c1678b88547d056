"""Demo panel: the same households and persons followed over survey rounds.

``chipao demo-data --rounds 2561,2562,2565`` generates round 2561 with the calibrated generator
(:mod:`service.demo.generate`) and derives every later round from the one before it, one
province at a time, by a transition model (docs/calibration.md, "Panel"):

* demography: people age by the years between rounds, die (Gompertz mortality), are born to
  women aged 15-49; young adults leave to form households of their own; households move
  within and between the tambons of their province; households leave the survey and new ones
  enter it (cloned from households of the same tambon, with new identifiers);
* poverty: a deprived household stays deprived with an annual probability rising with the
  number of indicators it fails (0.65 to 0.95), its failed indicators are cured one by one
  with an annual probability of 0.10; non-deprived households enter deprivation (poorer
  ones more likely) with the indicator profile of a deprived household of the province, as
  many as keep the province's deprived households in proportion to its target poor;
* welfare card and programmes: cards mostly persist; allowances persist and the excluded
  gain cover over time; child grant, work and social security follow age;
* calibration: each province's surveyed people and target poor (TPMAP rule: deprived in any
  indicator and validated welfare card holder) are scaled from 2561 by the national ratio of
  the round (:data:`PUBLISHED`; rounds without a published figure interpolate linearly).
  People are matched exactly (new households fill the gap); target poor within one
  household (cards given to deprived households, or target poor households leaving poverty).

Stable identifiers: ``hh_id`` and ``person_id`` never change; a person who forms a household
keeps their ``person_id``; new households get ``<tambon>-R<round>-<n>``, newborns
``<hh_id>-B<round>-<n>``, so an identifier is never reused by anybody else.
Every draw comes from ``numpy.random.default_rng([seed, province, round, purpose])``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from service.demo.calibration import IND
from service.demo.households import APPLIES, BMN22_LINE, HH_IND, IND_POS

#: published national totals (TPMAP; 76 provinces, Bangkok not surveyed): round ->
#: (surveyed people or None, target poor or None)
PUBLISHED: dict[int, tuple[int | None, int | None]] = {
    2561: (36_647_817, 1_032_987),
    2562: (None, 983_316),
    2565: (36_103_806, 1_025_782),
}
BASE_ROUND = 2561
PANEL_VERSION = "1.0"
log = logging.getLogger(__name__)

#: annual rates of the transition model (assumptions: docs/calibration.md, "Panel")
LEAVE_SURVEY = 0.02
MOVE_WITHIN = 0.010
MOVE_BETWEEN = 0.010
SPLIT = 0.015  # a member aged 20-35 (not the first) of a household of >= 3 forms a household
BIRTH = 0.045  # per woman aged 15-49
STAY_BASE, STAY_STEP = 0.55, 0.10  # deprived household stays: 0.55 + 0.10 * min(fails, 4)
CURE = 0.10  # a failed indicator of a staying household is cured
CARD_KEEP = 0.97
CARD_NEW_NONPOOR = 0.01
ALLOWANCE_UPTAKE = 0.20  # excluded elderly / disabled people start receiving
CHRONIC_ONSET = 0.01  # aged 40+
DISABLED_ONSET = (0.0005, 0.003)  # under / over 60
INCOME_GROWTH, INCOME_SD = 0.02, 0.20  # log income per year
PURPOSE = {"demography": 1, "move": 2, "poverty": 3, "card": 4, "programme": 5, "fill": 6,
           "births": 7, "identity": 8}

_HH_POS = np.array([IND_POS[i] for i in HH_IND])
_P22 = IND_POS[22]


def national_totals(round_: int) -> dict:
    """Surveyed people and target poor of a round: the published figure, else a linear
    interpolation between the published rounds around it (the nearest one outside them)."""
    out: dict = {"round": round_}
    for k, name in enumerate(("persons", "target_poor")):
        known = sorted((r, x) for r, v in PUBLISHED.items() if (x := v[k]) is not None)
        exact = dict(known)
        if round_ in exact:
            out[name], out[f"{name}_source"] = exact[round_], "published"
            continue
        before = [(r, v) for r, v in known if r < round_]
        after = [(r, v) for r, v in known if r > round_]
        if before and after:
            (r0, v0), (r1, v1) = before[-1], after[0]
            out[name] = int(round(v0 + (v1 - v0) * (round_ - r0) / (r1 - r0)))
            out[f"{name}_source"] = f"interpolated {r0}-{r1}"
        else:
            r0, v0 = (before[-1] if before else after[0])
            out[name], out[f"{name}_source"] = int(v0), f"carried from {r0}"
    return out


def ratios(round_: int) -> tuple[float, float]:
    """(people, target poor) of a round relative to 2561."""
    base, now = national_totals(BASE_ROUND), national_totals(round_)
    return now["persons"] / base["persons"], now["target_poor"] / base["target_poor"]


def _p(annual: float | np.ndarray, years: int) -> np.ndarray | float:
    """Probability over ``years`` of an event with an annual probability."""
    return 1.0 - (1.0 - np.asarray(annual, dtype=float)) ** years


def _rng(seed: int, province: str, round_: int, purpose: str) -> np.random.Generator:
    return np.random.default_rng([seed, int(province[2:]), round_, PURPOSE[purpose]])


def _mortality(age: np.ndarray) -> np.ndarray:
    """Annual probability of death (Gompertz, ~0.3 % at 50, 3.5 % at 80, capped at 50 %)."""
    return np.minimum(0.0005 * np.exp(0.085 * (age.astype(float) - 30.0)) + 0.0003, 0.5)


def target_poor(frame: pl.DataFrame) -> int:
    """TPMAP target poor: deprived in any indicator and validated welfare-card holder."""
    dep = pl.any_horizontal([pl.col(f"ind{i}").fill_null(0) == 1 for i in IND])
    return int(frame.select((dep & pl.col("welfare_card")).sum()).item())


#: string columns rebuilt at the end from integer codes and overrides (fast: no Python
#: strings for the ~38 M rows that keep their identifiers)
IDENTITY_COLUMNS = ("national_id", "first_name", "last_name")
_STRINGS = ("person_id", "hh_id", "village_id", "tambon_code", "amphoe_code", "province_code",
            "sex")


class _People:
    """One province's persons as numpy arrays, edited in place by the steps.

    Strings are integer codes: ``tambon`` / ``village`` index the province's code lists,
    ``hh`` numbers households, ``src`` is the row of the earlier round the person's
    identifiers come from; ``pid_new`` / ``hh_new`` hold new identifiers (None = keep)."""

    def __init__(self, frame: pl.DataFrame) -> None:
        extra = [c for c in frame.columns if c not in _STRINGS and not c.startswith("ind")
                 and frame.schema[c] == pl.Utf8]
        unknown = sorted(set(extra) - set(IDENTITY_COLUMNS))
        if unknown:
            raise ValueError(f"panel rounds cannot carry column(s) {', '.join(unknown)}")
        #: synthetic identifiers (--with-identifiers): kept per person, new for new persons
        self.identity = frame.select(extra) if extra else None
        self.cols = {c: frame[c].to_numpy().copy() for c in frame.columns
                     if c not in _STRINGS and c not in extra and not c.startswith("ind")}
        n = frame.height
        self.tambons, self.cols["tambon"] = _codes(frame["tambon_code"])
        self.villages, self.cols["village"] = _codes(frame["village_id"])
        self.cols["hh"] = _dense_rank(frame["hh_id"])
        self.cols["female"] = (frame["sex"] == "F").to_numpy()
        self.cols["src"] = np.arange(n, dtype=np.int64)
        self.cols["pid_new"] = np.full(n, None, dtype=object)
        self.cols["hh_new"] = np.full(n, None, dtype=object)
        self.next_hh = int(self.cols["hh"].max()) + 1 if n else 0
        self.old_hh_id = frame["hh_id"]
        self.fails = np.column_stack([(frame[f"ind{i}"].fill_null(0) == 1).to_numpy()
                                      for i in IND])

    def __len__(self) -> int:
        return len(self.fails)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]

    def __setitem__(self, name: str, value: np.ndarray) -> None:
        self.cols[name] = value

    def take(self, idx: np.ndarray) -> None:
        self.cols = {k: v[idx] for k, v in self.cols.items()}
        self.fails = self.fails[idx]

    def append(self, other: dict[str, np.ndarray], fails: np.ndarray) -> None:
        self.cols = {k: np.concatenate([v, other[k].astype(v.dtype)])
                     for k, v in self.cols.items()}
        self.fails = np.vstack([self.fails, fails])

    def households(self) -> tuple[np.ndarray, np.ndarray]:
        """(household index per person, first person of each household)."""
        _, first, inv = np.unique(self.cols["hh"], return_index=True, return_inverse=True)
        return inv.astype(np.int64), first

    def new_households(self, rows_hh: tuple[np.ndarray, np.ndarray], tag: str,
                       round_: int) -> None:
        """Give the persons ``rows`` new households, one per distinct value of ``rows_hh``
        (a (rows, key) pair), numbered ``<tambon>-<tag><round>-<n>`` per tambon."""
        rows, key = rows_hh
        uniq, inv = np.unique(key, return_inverse=True)
        firsts = np.unique(inv, return_index=True)[1]
        ids = _new_ids(self.tambons[self.cols["tambon"][rows[firsts]]], round_, tag)
        self.cols["hh"][rows] = self.next_hh + inv
        self.next_hh += len(uniq)
        self.cols["hh_new"][rows] = ids[inv]

    def hh_id(self, rows: np.ndarray) -> np.ndarray:
        """Household identifiers of some rows (strings)."""
        new = self.cols["hh_new"][rows]
        old = self.old_hh_id.gather(np.maximum(self.cols["src"][rows], 0)).to_numpy()
        return np.where(new == None, old, new)  # noqa: E711 (element-wise)


def _codes(values: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, code of each row)."""
    distinct = values.unique().sort()
    if values.null_count():
        return (np.array(distinct.to_list(), dtype=object), _dense_rank(values))
    # few distinct values (tambons, villages): a binary search each is cheaper than a rank
    return (np.array(distinct.to_list(), dtype=object),
            distinct.search_sorted(values).to_numpy().astype(np.int64))


def _dense_rank(values: pl.Series) -> np.ndarray:
    """0-based dense rank of each value (equal values, equal codes, in sorted order). A
    sorted column (the household ids of a generated round) is numbered by its runs."""
    if not values.null_count() and values.is_sorted():
        change = (values != values.shift(1)).fill_null(True).to_numpy()
        return np.cumsum(change, dtype=np.int64) - 1
    return values.rank("dense").to_numpy().astype(np.int64) - 1


def _rank_in_group(inv: np.ndarray) -> np.ndarray:
    """0 for the first row of each group (in row order), 1 for the next, ..."""
    order = np.argsort(inv, kind="stable")
    g = inv[order]
    start = np.ones(len(g), dtype=bool)
    start[1:] = g[1:] != g[:-1]
    rank = np.empty(len(g), dtype=np.int64)
    rank[order] = np.arange(len(g)) - np.flatnonzero(start)[np.cumsum(start) - 1]
    return rank


def _hh_any(inv: np.ndarray, n_hh: int, values: Any) -> np.ndarray:
    return np.bincount(inv, weights=np.asarray(values, dtype=float), minlength=n_hh) > 0


def _new_ids(tambon: np.ndarray, round_: int, tag: str) -> np.ndarray:
    """``<tambon>-<tag><round>-<n>`` numbered per tambon."""
    order = np.argsort(tambon, kind="stable")
    t = tambon[order]
    start = np.ones(len(t), dtype=bool)
    start[1:] = t[1:] != t[:-1]
    run = np.cumsum(start) - 1
    k = np.arange(len(t)) - np.flatnonzero(start)[run] + 1
    out = np.empty(len(t), dtype=object)
    out[order] = [f"{a}-{tag}{round_}-{b:05d}" for a, b in zip(t, k, strict=True)]
    return out


def _copy_places(rng: np.random.Generator, p: _People, first: np.ndarray,
                 tambons: np.ndarray) -> tuple[np.ndarray, ...]:
    """A place (village, lon, lat) of a random household of each given tambon."""
    hh_t = p["tambon"][first]
    order = np.argsort(hh_t, kind="stable")
    sorted_t = hh_t[order]
    lo = np.searchsorted(sorted_t, tambons, side="left")
    hi = np.searchsorted(sorted_t, tambons, side="right")
    pick = order[lo + (rng.uniform(size=len(tambons)) * np.maximum(hi - lo, 1)).astype(int)]
    src = first[pick]
    return p["village"][src], p["lon"][src], p["lat"][src]


def _relocate(p: _People, rows: np.ndarray, tambon, village, lon, lat) -> None:
    p["tambon"][rows] = tambon
    p["village"][rows] = village
    p["lon"][rows] = lon
    p["lat"][rows] = lat


def advance(frame: pl.DataFrame, *, seed: int, province: str, from_round: int, to_round: int,
            persons_target: int, target_poor_target: int) -> tuple[pl.DataFrame, dict]:
    """The next round of one province's persons (same columns), and a report of the
    transitions drawn."""
    years = to_round - from_round
    if years <= 0:
        raise ValueError(f"rounds must increase: {from_round} -> {to_round}")
    rep: dict = {"from_round": from_round, "to_round": to_round, "years": years,
                 "persons_before": frame.height}
    p = _People(frame)
    inv, first = p.households()
    n_hh = len(first)
    rep["households_before"] = n_hh
    dep_hh_before = int(_hh_any(inv, n_hh, p.fails.any(axis=1)).sum())

    # -- demography -----------------------------------------------------------------------
    rng = _rng(seed, province, to_round, "demography")
    leave_hh = rng.uniform(size=n_hh) < _p(LEAVE_SURVEY, years)
    age0 = p["age"].astype(np.int64)
    dies = (rng.uniform(size=len(p)) < _p(_mortality(age0 + years / 2), years)) | (
        age0 + years > 105)
    # births, to women alive at the end of the period
    women = np.flatnonzero(p["female"] & (age0 + years / 2 >= 15)
                           & (age0 + years / 2 <= 49) & ~dies & ~leave_hh[inv])
    rb = _rng(seed, province, to_round, "births")
    n_births = np.minimum(rb.poisson(BIRTH * years, len(women)), 2)
    mothers = np.repeat(women, n_births)
    rep["deaths"] = int((dies & ~leave_hh[inv]).sum())
    rep["households_left"] = int(leave_hh.sum())
    keep = ~dies & ~leave_hh[inv]
    babies = _births(rb, p, mothers, to_round, years)
    p["age"] = (age0 + years).astype(np.int16)
    p.take(np.flatnonzero(keep))
    p.append(*babies)
    rep["births"] = len(mothers)

    # -- young adults forming households, moves ------------------------------------------
    rm = _rng(seed, province, to_round, "move")
    inv, first = p.households()
    n_hh = len(first)
    size = np.bincount(inv, minlength=n_hh)
    member_no = _rank_in_group(inv)
    age = p["age"].astype(np.int64)
    splits = np.flatnonzero((age >= 20) & (age <= 35) & (member_no > 0) & (size[inv] >= 3)
                            & (rm.uniform(size=len(p)) < _p(SPLIT, years)))
    within = np.flatnonzero(rm.uniform(size=n_hh) < _p(MOVE_WITHIN, years))
    between = np.flatnonzero(rm.uniform(size=n_hh) < _p(MOVE_BETWEEN, years))
    between = between[~np.isin(between, within)]
    hh_tambon = p["tambon"][first]
    tambon_list, tambon_hh = np.unique(hh_tambon, return_counts=True)
    dest_between = tambon_list[rm.choice(len(tambon_list), len(between),
                                         p=tambon_hh / tambon_hh.sum())]
    places_w = _copy_places(rm, p, first, hh_tambon[within])
    places_b = _copy_places(rm, p, first, dest_between)
    for hhs, dest, places in ((within, hh_tambon[within], places_w),
                              (between, dest_between, places_b)):
        rows = np.flatnonzero(np.isin(inv, hhs))
        pos = np.searchsorted(hhs, inv[rows])
        _relocate(p, rows, dest[pos], places[0][pos], places[1][pos], places[2][pos])
    if len(splits):
        places_s = _copy_places(rm, p, first, p["tambon"][splits])
        p.new_households((splits, splits), "S", to_round)
        _relocate(p, splits, p["tambon"][splits].copy(), *places_s)
    rep.update(moved_within=len(within), moved_between=len(between), split_off=len(splits))

    # -- surveyed people: new households fill the gap to the target -----------------------
    _fill(_rng(seed, province, to_round, "fill"), p, persons_target, to_round, rep)

    # -- poverty transitions ---------------------------------------------------------------
    rp = _rng(seed, province, to_round, "poverty")
    inv, first = p.households()
    n_hh = len(first)
    _applicable(p)
    dep_person = p.fails.any(axis=1)
    dep_hh = _hh_any(inv, n_hh, dep_person)
    n_fail = sum(_hh_any(inv, n_hh, p.fails[:, k]).astype(np.int64) for k in range(len(IND)))
    exit_p = _p(1.0 - (STAY_BASE + STAY_STEP * np.minimum(n_fail, 4)), years)
    exits = dep_hh & (rp.uniform(size=n_hh) < exit_p)
    donors = np.flatnonzero(dep_person)  # deprivation profiles of this round
    donor_fails = p.fails[donors].copy()
    p.fails[exits[inv]] = False
    # indicators cured one by one (household ones per household)
    cure = rp.uniform(size=p.fails.shape) < _p(CURE, years)
    cure_hh = rp.uniform(size=(n_hh, len(_HH_POS) + 1)) < _p(CURE, years)
    cure[:, _HH_POS] = cure_hh[inv, :-1]
    cure[:, _P22] = cure_hh[inv, -1]
    p.fails &= ~cure
    dep_hh_now = _hh_any(inv, n_hh, p.fails.any(axis=1))
    wanted = int(round(dep_hh_before * target_poor_target / max(target_poor(frame), 1)))
    wanted = min(wanted, n_hh)
    need = max(wanted - int(dep_hh_now.sum()), 0)
    income_hh = p["income_per_person_thb"][first].astype(float)
    candidates = np.flatnonzero(~dep_hh_now)
    enter = np.empty(0, dtype=np.int64)
    if need and len(candidates) and len(donors):
        w = 1.0 / np.maximum(income_hh[candidates], 1.0)
        keys = np.log(w) + rp.gumbel(size=len(candidates))
        enter = np.sort(candidates[np.argsort(-keys)[:need]])
        _enter(rp, p, inv, enter, donor_fails)
    rep.update(deprived_households_before=dep_hh_before, exited_households=int(
        (exits & ~np.isin(np.arange(n_hh), enter)).sum()), entered_households=len(enter))

    # -- income and BMN 22 (a household criterion: income < 38,000 THB/person/year) -------
    _income(rp, p, inv, first, years)

    # -- welfare card, calibrated target poor, programmes -------------------------------
    _cards(_rng(seed, province, to_round, "card"), p, target_poor_target, years, rep)
    _programmes(_rng(seed, province, to_round, "programme"), p, years=years)
    out = _frame(p, frame, _rng(seed, province, to_round, "identity"))
    rep["persons_after"] = out.height
    # a household code is one hh_id and a tambon code one tambon (no string counting)
    rep["households_after"] = len(np.unique(p["hh"]))
    rep["tambons_without_households"] = int(len(p.tambons) - len(np.unique(p["tambon"])))
    rep["target_poor_after"] = target_poor(out)
    rep["target_poor_wanted"] = target_poor_target
    return out, rep


def _births(rng: np.random.Generator, p: _People, mothers: np.ndarray, to_round: int,
            years: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    n = len(mothers)
    cols = {k: v[mothers].copy() for k, v in p.cols.items()}
    # newborn numbers per mother's household: <hh_id>-B<round>-<k>
    k = _rank_in_group(cols["hh"]) + 1
    cols["pid_new"] = np.array([f"{h}-B{to_round}-{j:02d}" for h, j in
                                zip(p.hh_id(mothers), k, strict=True)], dtype=object)
    # ages at the end of the period (the others are advanced before the babies are added)
    cols["age"] = rng.integers(0, years, n).astype(p["age"].dtype)
    cols["female"] = rng.uniform(size=n) < 0.49
    for c in ("disabled", "chronic", "elderly_allowance", "disability_allowance",
              "social_security", "informal_worker", "child_grant"):
        cols[c] = np.zeros(n, dtype=bool)
    fails = np.zeros((n, len(IND)), dtype=bool)
    fails[:, _HH_POS] = p.fails[mothers][:, _HH_POS]
    fails[:, _P22] = p.fails[mothers, _P22]
    return cols, fails


def _fill(rng: np.random.Generator, p: _People, target: int, to_round: int, rep: dict) -> None:
    """Drop or clone whole households (same tambon, new ids) until ``target`` people."""
    inv, first = p.households()
    n_hh = len(first)
    rep["extra_left"] = 0
    if len(p) > target:  # more people than the published total: more households leave
        order = rng.permutation(n_hh)
        size = np.bincount(inv, minlength=n_hh)[order]
        drop = order[: int(np.searchsorted(np.cumsum(size), len(p) - target))]
        rep["extra_left"] = len(drop)
        p.take(np.flatnonzero(~np.isin(inv, drop)))
        inv, first = p.households()
        n_hh = len(first)
    need = target - len(p)
    rep["new_households"] = 0
    if need <= 0 or n_hh == 0:
        return
    size = np.bincount(inv, minlength=n_hh)
    donors = rng.integers(0, n_hh, need)  # at most need households of >= 1 person
    n_take = int(np.searchsorted(np.cumsum(size[donors]), need)) + 1
    donors = donors[:n_take]
    order = np.argsort(inv, kind="stable")
    starts = np.searchsorted(inv[order], donors)
    clone_hh = np.repeat(np.arange(len(donors)), size[donors])
    within = np.arange(len(clone_hh)) - np.searchsorted(clone_hh, clone_hh)
    rows = order[starts[clone_hh] + within][:need]  # the last clone keeps its first members
    clone_hh, within = clone_hh[:need], within[:need]
    cols = {k: v[rows].copy() for k, v in p.cols.items()}
    base = len(p)
    p.append(cols, p.fails[rows].copy())
    new_rows = base + np.arange(len(rows))
    p.new_households((new_rows, clone_hh), "R", to_round)
    p["pid_new"][new_rows] = [f"{h}-{m + 1:02d}" for h, m in
                              zip(p["hh_new"][new_rows], within, strict=True)]
    rep["new_households"] = len(donors)


def _applicable_mask(age: np.ndarray, disabled: np.ndarray) -> np.ndarray:
    ok = np.ones((len(age), len(IND)), dtype=bool)
    for ind, (lo, hi) in APPLIES.items():
        ok[:, IND_POS[ind]] = (age >= lo) & (age <= hi)
    ok[:, IND_POS[28]] = disabled
    return ok


def _applicable(p: _People) -> None:
    """Indicators that no longer apply after ageing are dropped."""
    p.fails &= _applicable_mask(p["age"].astype(np.int64), p["disabled"])


def _enter(rng: np.random.Generator, p: _People, inv: np.ndarray, enter: np.ndarray,
           donor_fails: np.ndarray) -> None:
    """Households entering deprivation take profiles of deprived people of the province:
    each member one donor's person indicators, the household one donor's household ones."""
    rows = np.flatnonzero(np.isin(inv, enter))
    prof = donor_fails[rng.integers(0, len(donor_fails), len(rows))].copy()
    hh_prof = donor_fails[rng.integers(0, len(donor_fails), len(enter))]
    pos = np.searchsorted(enter, inv[rows])
    prof[:, _HH_POS] = hh_prof[pos][:, _HH_POS]
    prof[:, _P22] = hh_prof[pos, _P22]
    prof &= _applicable_mask(p["age"][rows].astype(np.int64), p["disabled"][rows])
    p.fails[rows] = prof
    # a household whose profile did not fit its members' ages: its first member fails BMN 7
    # (exercise, applies at every age)
    dep = _hh_any(inv[rows], int(inv.max()) + 1, prof.any(axis=1))
    lacking = enter[~dep[enter]]
    if len(lacking):
        _, firsts = np.unique(inv, return_index=True)
        p.fails[firsts[lacking], IND_POS[7]] = True


def _income(rng: np.random.Generator, p: _People, inv: np.ndarray, first: np.ndarray,
            years: int) -> None:
    n_hh = len(first)
    income = p["income_per_person_thb"][first].astype(float)
    income = np.exp(np.log(np.maximum(income, 1.0)) + INCOME_GROWTH * years
                    + rng.normal(0.0, INCOME_SD * np.sqrt(years), n_hh))
    below = _hh_any(inv, n_hh, p.fails[:, _P22])
    income = np.where(below, np.minimum(income, BMN22_LINE - 1),
                      np.maximum(income, BMN22_LINE))
    p["income_per_person_thb"] = income[inv].astype(np.float32)
    p.fails[:, _P22] = below[inv]


def _cards(rng: np.random.Generator, p: _People, target: int, years: int, rep: dict) -> None:
    inv, first = p.households()
    n_hh = len(first)
    card_hh = _hh_any(inv, n_hh, p["welfare_card"])
    reg_hh = _hh_any(inv, n_hh, p["welfare_card_registered"])
    dep = p.fails.any(axis=1)
    dep_hh = _hh_any(inv, n_hh, dep)
    lose = card_hh & (rng.uniform(size=n_hh) >= CARD_KEEP ** years)
    gain = ~card_hh & ~dep_hh & (rng.uniform(size=n_hh) < _p(CARD_NEW_NONPOOR, years))
    card_hh = (card_hh & ~lose) | gain
    card = (p["welfare_card"] & ~lose[inv]) | gain[inv]
    tp = int((card & dep).sum())
    rep["cards_lost"], rep["cards_new"] = int(lose.sum()), int(gain.sum())
    calib = 0
    if tp < target:  # deprived households without a card register (poorer first)
        cand = np.flatnonzero(dep_hh & ~card_hh)
        n_dep = np.bincount(inv, weights=dep.astype(float), minlength=n_hh)
        income = p["income_per_person_thb"][first].astype(float)
        keys = -np.log(income[cand]) + rng.gumbel(size=len(cand))
        cand = cand[np.argsort(-keys)]
        k = int(np.searchsorted(np.cumsum(n_dep[cand]), target - tp)) + 1
        got = cand[:k]
        card |= np.isin(inv, got)
        reg_hh[got] = True
        calib = len(got)
    elif tp > target:  # target poor households leave poverty (random order)
        tp_hh = _hh_any(inv, n_hh, card & dep)
        n_tp = np.bincount(inv, weights=(card & dep).astype(float), minlength=n_hh)
        cand = rng.permutation(np.flatnonzero(tp_hh))
        k = int(np.searchsorted(np.cumsum(n_tp[cand]), tp - target))
        out = np.isin(inv, cand[:k])
        p.fails[out] = False
        below = p["income_per_person_thb"] < BMN22_LINE
        p["income_per_person_thb"] = np.where(out & below, np.float32(BMN22_LINE),
                                              p["income_per_person_thb"]).astype(np.float32)
        calib = -k
    rep["card_calibration_households"] = calib
    p["welfare_card"] = card
    p["welfare_card_registered"] = p["welfare_card_registered"] | card


def _programmes(rng: np.random.Generator, p: _People, *, years: int) -> None:
    age = p["age"].astype(np.int64)
    before = age - years  # negative for newborns
    n = len(p)
    u = rng.uniform(size=(8, n))
    old = age >= 60
    newly_old = old & (before < 60)
    ea = p["elderly_allowance"] & old
    ea |= newly_old & (u[0] < 0.817)
    ea |= old & ~newly_old & (u[1] < _p(ALLOWANCE_UPTAKE, years))
    p["elderly_allowance"] = ea
    onset = np.where(old, DISABLED_ONSET[1], DISABLED_ONSET[0])
    new_dis = ~p["disabled"] & (u[2] < _p(onset, years))
    p["disabled"] = p["disabled"] | new_dis
    da = p["disability_allowance"] & p["disabled"]
    da |= new_dis & (u[3] < 0.756)
    da |= p["disabled"] & ~new_dis & (u[4] < _p(ALLOWANCE_UPTAKE, years))
    p["disability_allowance"] = da
    p["chronic"] = p["chronic"] | ((age >= 40) & (u[5] < _p(CHRONIC_ONSET, years)))
    child = age < 6
    newborn = before < 0
    grant_p = np.where(p["income_per_person_thb"] < 100_000.0, 0.845, 0.03)
    p["child_grant"] = child & (p["child_grant"] | (newborn & (u[6] < grant_p)))
    # work follows age: people whose age class changed are drawn again
    classes = np.array([15, 23, 60, 65])
    changed = np.searchsorted(classes, age, side="right") != np.searchsorted(
        classes, np.maximum(before, 0), side="right")
    no_work = p.fails[:, IND_POS[20]] | p.fails[:, IND_POS[21]]
    p_work = np.select([(age >= 15) & (age <= 22), (age >= 23) & (age <= 59),
                        (age >= 60) & (age <= 64)], [0.45, 0.88, 0.5], 0.0)
    employed_new = u[7] < p_work
    v = rng.uniform(size=(2, n))
    informal_new = employed_new & (v[0] < np.where(p["welfare_card"], 0.85, 0.5))
    ss_new = employed_new & (~informal_new | (v[1] < 0.207))
    informal = np.where(changed, informal_new, p["informal_worker"]) & ~no_work & (p_work > 0)
    ss = np.where(changed, ss_new, p["social_security"]) & ~no_work & (p_work > 0)
    p["informal_worker"], p["social_security"] = informal, ss


def _frame(p: _People, like: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    p.take(np.lexsort((p["hh"], p["tambon"])))  # stable: members keep their order
    ok = _applicable_mask(p["age"].astype(np.int64), p["disabled"])
    p.fails &= ok
    src = pl.Series(np.maximum(p["src"], 0))
    ids = like.select("person_id", "hh_id")[src]

    def override(base: pl.Series, new: np.ndarray) -> pl.Series:
        idx = np.flatnonzero(new != None)  # noqa: E711 (element-wise)
        if not len(idx):
            return base
        return base.scatter(idx, pl.Series(new[idx].tolist(), dtype=pl.Utf8))

    tambon = pl.Series("tambon_code", _strings(p.tambons)).gather(p["tambon"])
    cols: dict[str, pl.Series] = {
        "person_id": override(ids["person_id"], p["pid_new"]),
        "hh_id": override(ids["hh_id"], p["hh_new"]),
        "village_id": pl.Series(_strings(p.villages), dtype=pl.Utf8).gather(p["village"]),
        "tambon_code": tambon,
        "amphoe_code": tambon.str.slice(0, 6),
        "province_code": tambon.str.slice(0, 4),
        "sex": pl.Series(["M", "F"], dtype=pl.Utf8).gather(p["female"].astype(np.uint32)),
    }
    if p.identity is not None:
        # persons keep their identifiers; newborns and members of new households get new ones
        from service.demo.identifiers import synthetic_identities

        ident = p.identity[src]
        fresh = np.flatnonzero(p["pid_new"] != None)  # noqa: E711 (element-wise)
        if len(fresh):
            sex = np.where(p["female"][fresh], "F", "M")
            new = synthetic_identities(rng, p["age"][fresh], sex)
            ident = ident.with_columns([ident[c].scatter(fresh, pl.Series(new[c].tolist()))
                                        for c in ident.columns])
        cols.update({c: ident[c] for c in ident.columns})
    for name in like.columns:
        if name.startswith("ind"):
            k = IND_POS[int(name[3:])]
            cols[name] = pl.Series(name, p.fails[:, k].astype(np.int8), dtype=pl.Int8).set(
                pl.Series(~ok[:, k]), None)
        elif name not in cols:
            cols[name] = pl.Series(name, p[name], dtype=like.schema[name])
    return pl.DataFrame({name: cols[name].alias(name) for name in like.columns})


def _strings(values: np.ndarray) -> list[str]:
    return [str(v) for v in values]


# -- rounds on disk: <out>/r<round>/persons/<province>.parquet + manifest.json ----------------
def round_dir(out: str | Path, round_: int) -> Path:
    return Path(out) / f"r{int(round_)}"


def parse_rounds(value: str | Iterable[int]) -> list[int]:
    """Sorted distinct Buddhist-era rounds from '2561,2562,2565'; the first must be >= 2561
    (the calibrated base) and every round a plausible BE year."""
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        rounds = sorted({int(str(r).strip()) for r in items if str(r).strip()})
    except ValueError as exc:
        raise ValueError(f"rounds must be Buddhist-era years such as 2561,2562,2565 "
                         f"/ รอบสำรวจต้องเป็นปี พ.ศ. เช่น 2561,2562,2565: {value!r}") from exc
    if not rounds:
        raise ValueError("no round given / ไม่ได้ระบุรอบสำรวจ")
    bad = [r for r in rounds if r < BASE_ROUND or r > 2700]
    if bad:
        raise ValueError(f"round(s) {', '.join(map(str, bad))} outside {BASE_ROUND}-2700: the "
                         f"panel starts from the TPMAP {BASE_ROUND} calibration / รอบสำรวจต้อง"
                         f"ไม่ก่อนปี {BASE_ROUND}")
    return rounds


def _round_manifest(out: Path, round_: int) -> dict | None:
    path = round_dir(out, round_) / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def generate_panel(rounds: Iterable[int], *, seed: int = 2561, out: str | Path,
                   provinces: Iterable[str] | None = None,
                   amphoes: Iterable[str] | None = None,
                   with_identifiers: bool = False,
                   boundaries_dir: str | Path | None = None,
                   processes: int | None = None) -> dict:
    """Rounds of the demo panel into ``<out>/r<round>/`` (each a persons directory for
    ``chipao ingest`` / the pipeline). Round 2561 is generated (calibrated to TPMAP 2561) and
    is always written, as the base; every later round is derived from the round before it,
    one province file at a time. Rounds already on disk with the same seed, areas and chain
    of earlier rounds are reused (their ``manifest.json`` marks them complete). Provinces
    are generated and derived side by side by ``processes`` (default: one per core); the
    files are the same whatever the number."""
    from service.demo.generate import generate

    chain = parse_rounds([BASE_ROUND, *rounds])
    out = Path(out)
    t0 = time.perf_counter()
    wanted = panel_request(seed, provinces, amphoes, with_identifiers)
    base = _round_manifest(out, BASE_ROUND)
    if base is None or base.get("panel_request") != wanted:
        tp: dict[str, int] = {}  # counted as each province is written (no reading back)
        base = generate(provinces, seed=seed, out=round_dir(out, BASE_ROUND), amphoes=amphoes,
                        with_identifiers=with_identifiers, boundaries_dir=boundaries_dir,
                        processes=processes, target_poor=tp)
        base = base_manifest(out, base, tp, wanted)
    manifests = {BASE_ROUND: base}
    for prev, nxt in zip(chain[:-1], chain[1:], strict=True):
        have = _round_manifest(out, nxt)
        if have is not None and have.get("chain") == chain[:chain.index(nxt) + 1] \
                and have.get("panel_request") == wanted:
            manifests[nxt] = have
            continue
        manifests[nxt] = advance_round(out, seed=seed, from_round=prev, to_round=nxt,
                                       base=base, chain=chain[:chain.index(nxt) + 1],
                                       request=wanted, processes=processes)
    return write_summary(out, seed=seed, chain=chain, rounds=rounds, request=wanted,
                         manifests=manifests, seconds=time.perf_counter() - t0)


def panel_request(seed: int, provinces: Iterable[str] | None,
                  amphoes: Iterable[str] | None = None,
                  with_identifiers: bool = False) -> dict:
    """What a panel's rounds are made from (kept in each round's manifest)."""
    return {"seed": seed, "provinces": sorted(provinces) if provinces else None,
            "amphoes": sorted(amphoes) if amphoes else None,
            "with_identifiers": with_identifiers}


def write_summary(out: Path, *, seed: int, chain: list[int], rounds: str | Iterable[int],
                  request: dict, manifests: dict[int, dict], seconds: float) -> dict:
    """``<out>/manifest.json``: the rounds of the panel and their fit."""
    summary = {"generator": "chipao.demo.panel", "seed": seed, "rounds": chain,
               "requested": parse_rounds(rounds), "areas": request,
               "per_round": {str(r): {"n_households": m["n_households"],
                                      "n_persons": m["n_persons"], "fit": m["fit"]}
                             for r, m in manifests.items()},
               "seconds": round(seconds, 1)}
    _write_json(out / "manifest.json", summary)
    return summary


def base_manifest(out: Path, generated: dict, target_poor: dict[str, int],
                  request: dict) -> dict:
    """The manifest of the panel's base round: the generator's, with each province's
    target poor, the chain and the fit (written to ``r2561/manifest.json``)."""
    for code in generated["provinces"]:
        generated["per_province"][code]["n_target_poor"] = target_poor[code]
    generated.update(round=BASE_ROUND, chain=[BASE_ROUND], panel_request=request,
                     totals=national_totals(BASE_ROUND),
                     fit=_fit(generated["per_province"], BASE_ROUND))
    _write_json(round_dir(out, BASE_ROUND) / "manifest.json", generated)
    return generated


def _advance_province(job: tuple[str, int, int], *, src: str, dst: str, seed: int,
                      from_round: int, to_round: int) -> tuple[str, dict]:
    """Derive one province's file of ``to_round`` from its file of ``from_round``."""
    code, persons_target, target_poor_target = job
    frame = pl.read_parquet(Path(src) / f"{code}.parquet")
    return code, _derive_one(frame, code, seed=seed, from_round=from_round, to_round=to_round,
                             persons_target=persons_target,
                             target_poor_target=target_poor_target, dst=Path(dst))[1]


def _derive_one(frame: pl.DataFrame, code: str, *, seed: int, from_round: int, to_round: int,
                persons_target: int, target_poor_target: int,
                dst: Path) -> tuple[pl.DataFrame, dict]:
    """One province's next round written to ``dst``: (its frame, its manifest entry)."""
    t1 = time.perf_counter()
    nxt, rep = advance(frame, seed=seed, province=code, from_round=from_round,
                       to_round=to_round, persons_target=persons_target,
                       target_poor_target=target_poor_target)
    del frame
    path = dst / f"{code}.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    nxt.write_parquet(tmp, compression="zstd")
    os.replace(tmp, path)
    log.info("panel %s %s -> %s: %s people in %.1f s", code, from_round, to_round,
             f"{nxt.height:,}", time.perf_counter() - t1)
    return nxt, {"n_households": rep["households_after"], "n_persons": rep["persons_after"],
                 "n_target_poor": rep["target_poor_after"], "transitions": rep}


def derive_province_rounds(code: str, *, out: str, seed: int,
                           chain: list[int]) -> tuple[str, dict[int, dict]]:
    """Derive every later round of ``chain`` of one province, in turn, from its base-round
    file (each round written as it is made and handed on in memory): the same files as
    :func:`advance_round` writes round by round. Returns (code, {round: counts})."""
    frame = pl.read_parquet(round_dir(out, chain[0]) / "persons" / f"{code}.parquet")
    people, target = frame.height, target_poor(frame)  # the base counts of the manifest
    done: dict[int, dict] = {}
    for prev, nxt in zip(chain[:-1], chain[1:], strict=True):
        r_people, r_target = ratios(nxt)
        dst = round_dir(out, nxt) / "persons"
        dst.mkdir(parents=True, exist_ok=True)
        frame, done[nxt] = _derive_one(frame, code, seed=seed, from_round=prev, to_round=nxt,
                                       persons_target=int(round(people * r_people)),
                                       target_poor_target=int(round(target * r_target)),
                                       dst=dst)
    return code, done


def advance_round(out: str | Path, *, seed: int, from_round: int, to_round: int, base: dict,
                  chain: list[int], request: dict, processes: int | None = None) -> dict:
    """Derive round ``to_round`` from ``from_round`` on disk, one province file per process
    at a time (``processes``: default one per core)."""
    out = Path(out)
    src, dst = round_dir(out, from_round) / "persons", round_dir(out, to_round) / "persons"
    dst.mkdir(parents=True, exist_ok=True)
    stale = round_dir(out, to_round) / "manifest.json"
    stale.unlink(missing_ok=True)
    r_people, r_target = ratios(to_round)
    t0 = time.perf_counter()
    jobs = [(code, int(round(base["per_province"][code]["n_persons"] * r_people)),
             int(round(base["per_province"][code]["n_target_poor"] * r_target)))
            for code in base["provinces"]]
    run = functools.partial(_advance_province, src=str(src), dst=str(dst), seed=seed,
                            from_round=from_round, to_round=to_round)
    n = processes if processes is not None else min(len(jobs), os.cpu_count() or 1)
    if n > 1 and len(jobs) > 1:
        # provinces are independent (draws seeded by province and round): the same files
        # whichever process writes them; the biggest first so that the last tasks are small
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn")) as pool:
            done = dict(pool.map(run, sorted(jobs, key=lambda j: -j[1])))
    else:
        done = dict(map(run, jobs))
    return derived_manifest(out, done, seed=seed, from_round=from_round, to_round=to_round,
                            base=base, chain=chain, request=request,
                            seconds=time.perf_counter() - t0)


def derived_manifest(out: Path, done: dict[str, dict], *, seed: int, from_round: int,
                     to_round: int, base: dict, chain: list[int], request: dict,
                     seconds: float) -> dict:
    """The manifest of a derived round (``done``: province -> counts and transitions),
    written to ``r<round>/manifest.json`` and returned."""
    per_province = {code: done[code] for code in base["provinces"]}
    manifest = {
        "generator": "chipao.demo.panel", "generator_version": PANEL_VERSION, "seed": seed,
        "round": to_round, "previous_round": from_round, "chain": chain,
        "panel_request": request, "provinces": base["provinces"], "amphoes": base["amphoes"],
        "n_households": sum(v["n_households"] for v in per_province.values()),
        "n_persons": sum(v["n_persons"] for v in per_province.values()),
        "per_province": per_province, "totals": national_totals(to_round),
        "fit": _fit(per_province, to_round),
        "seconds": round(seconds, 1),
    }
    _write_json(round_dir(out, to_round) / "manifest.json", manifest)
    return manifest


def _fit(per_province: dict[str, dict], round_: int) -> dict:
    """Generated vs published (or interpolated) national totals of the TPMAP provinces
    (Bangkok, not surveyed by TPMAP, left out); meaningful for a national run."""
    tot = national_totals(round_)
    tpmap_provinces = [c for c in per_province if c != "TH10"]
    people = sum(per_province[c]["n_persons"] for c in tpmap_provinces)
    target = sum(per_province[c].get("n_target_poor", 0) for c in tpmap_provinces)
    return {"persons": people, "target_poor": target,
            "published_persons": tot["persons"], "persons_source": tot["persons_source"],
            "published_target_poor": tot["target_poor"],
            "target_poor_source": tot["target_poor_source"],
            "err_persons_pct": round(100 * (people / tot["persons"] - 1), 4),
            "err_target_poor_pct": round(100 * (target / tot["target_poor"] - 1), 4),
            "provinces": len(tpmap_provinces)}


def _write_json(path: Path, value: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(value, ensure_ascii=False, indent=1, default=str),
                   encoding="utf-8")
    os.replace(tmp, path)
