"""Generate the people and households of one calibration unit, matching its counts exactly.

Vectorised numpy over the people of a unit; a unit is small (median ~4,000 people), so the
Python work per unit is a few dozen array operations whatever its size.

Construction (see docs/calibration.md):

1. Person pools by welfare card and deprivation, sized from the counts: target poor (validated
   and deprived), validated not deprived, registered-not-validated deprived / not deprived,
   not registered deprived / not deprived.
2. Target poor: dimension memberships, then indicator sets inside each dimension, are laid out
   cyclically (set j covers the next |S_j| positions of a random order), which gives exact set
   sizes and an exact union whenever max |S_j| <= union <= sum |S_j|. Age-specific indicators
   take the first blocks and are given people whose age class fits, so ages stay plausible.
3. Ages: classes fixed by step 2, then the elderly count is completed exactly.
4. Households: target poor failing BMN 22 (household income) form their own households, so
   ``ind22 == 1`` exactly when household income per person < 38,000 THB.
5. Deprived people who are not target poor (no published indicator counts): co-occurring
   indicators drawn with a household severity, household indicators shared by the household
   (:func:`nontarget_fails`; an assumption giving a national MPI headcount of a few percent).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from service.demo.calibration import IND

IND_POS = {ind: k for k, ind in enumerate(IND)}
#: age classes: (low, high) inclusive
CLASS_AGES = ((0, 0), (1, 2), (3, 5), (6, 14), (15, 17), (18, 59), (60, 105))
ELDERLY_CLASS = 6
#: indicators that apply to one age class (first class preferred)
IND_CLASSES: dict[int, tuple[int, ...]] = {
    1: (0,), 15: (2,), 16: (3,), 17: (4,), 19: (5, 4), 20: (5, 4), 21: (6,), 27: (6,),
}
#: order of the cyclic layout of dimension memberships
DIM_LAYOUT = ("living", "health", "accessibility", "education", "income")
#: order in which indicators are given inside dimensions: the most age-specific first
DIM_ORDER = ("education", "income", "accessibility", "health", "living")
#: indicators inside each dimension, age-specific first
DIM_IND_ORDER = {
    "education": (15, 16, 17, 19), "income": (21, 20, 22), "accessibility": (27, 28),
    "health": (1, 4, 5, 7), "living": (8, 9, 10, 11),
}
#: applicability of indicators by age (None = every age); 28 applies to disabled people
APPLIES: dict[int, tuple[int, int]] = {
    1: (0, 0), 15: (3, 5), 16: (6, 14), 17: (15, 17), 19: (15, 59), 20: (15, 59),
    21: (60, 200), 27: (60, 200),
}
#: relative weight of each age 0..59 (Thai age structure, 2018, smoothed)
_YOUNG_W = np.concatenate([
    np.full(5, 0.90), np.full(10, 1.00), np.full(10, 1.05), np.full(15, 1.10), np.full(20, 1.25),
])
_YOUNG_P = _YOUNG_W / _YOUNG_W.sum()
#: relative frequency of the general indicators, used for deprived people who are not target
#: poor (TPMAP publishes indicator counts only for the target poor)
_NONTARGET_W = {4: 3.0, 5: 2.0, 7: 6.0, 8: 1.0, 9: 1.0, 10: 1.0, 11: 3.0, 16: 2.0, 19: 1.0,
                20: 2.0, 21: 6.0, 27: 0.5, 28: 0.3, 1: 0.2, 15: 0.3, 17: 0.5}

INCOME_MEDIAN = 80_000.0
INCOME_SIGMA = 0.75
BMN22_LINE = 38_000.0
CARD_INCOME_LIMIT = 100_000.0  # welfare card: income <= 100,000 THB/person/year
CARD_INCOME_SHARE = 0.95  # share of card households that meet it (the rest: inclusion error)


def _layout(order: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """Cyclic layout: set j = the next sizes[j] items of ``order`` (wrapping)."""
    n = len(order)
    out, pos = [], 0
    for s in sizes:
        out.append(order[(pos + np.arange(s)) % n] if s else order[:0])
        pos += s
    return out


def _top_k(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """k indices drawn without replacement with probability ~ weights (Gumbel top-k)."""
    n = len(weights)
    k = max(0, min(k, n))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    if k == n:
        return np.arange(n)
    keys = np.log(np.maximum(weights, 1e-12)) + rng.gumbel(size=n)
    return np.argpartition(-keys, k - 1)[:k]


def target_poor(t: dict[str, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indicator matrix (T x 17, bool) and age class (T, -1 = free) of the target poor."""
    n = t["target"]
    fails = np.zeros((n, len(IND)), dtype=bool)
    cls = np.full(n, -1, dtype=np.int8)
    if n == 0:
        return fails, cls
    # people in several dimensions are those where the layout wraps: the last dimensions
    # (income) wrap onto the first ones (living, health), whose indicators fit every age
    members = dict(zip(DIM_LAYOUT,
                       _layout(rng.permutation(n), [t[f"target_{d}"] for d in DIM_LAYOUT]),
                       strict=True))
    for dim in DIM_ORDER:
        m = members[dim]
        size = len(m)
        if size == 0:
            continue
        inds = DIM_IND_ORDER[dim]
        remaining = rng.permutation(m)
        parts, pos = [], 0
        for ind in inds:
            if ind not in IND_CLASSES:
                break
            if pos >= size:
                break
            block = min(t[f"target_ind{ind}"], size - pos)
            if block == 0:
                continue
            have = cls[remaining]
            pri = np.where(np.isin(have, IND_CLASSES[ind]), 0, np.where(have == -1, 1, 2))
            pick = np.argsort(pri, kind="stable")[:block]
            take = remaining[pick]
            cls[take[cls[take] == -1]] = IND_CLASSES[ind][0]
            parts.append(take)
            keep = np.ones(len(remaining), dtype=bool)
            keep[pick] = False
            remaining = remaining[keep]
            pos += block
        ordered = np.concatenate([*parts, remaining])
        for ind, people in zip(inds, _layout(ordered, [t[f"target_ind{i}"] for i in inds]),
                               strict=True):
            fails[people, IND_POS[ind]] = True
    return fails, cls


def _ages_of_class(rng: np.random.Generator, cls: np.ndarray) -> np.ndarray:
    ages = np.empty(len(cls), dtype=np.int16)
    for c, (lo, hi) in enumerate(CLASS_AGES):
        sel = np.flatnonzero(cls == c)
        if not len(sel):
            continue
        if c == ELDERLY_CLASS:
            ages[sel] = np.minimum(60 + rng.exponential(10.0, len(sel)).astype(np.int16), 105)
        else:
            p = _YOUNG_P[lo:hi + 1] / _YOUNG_P[lo:hi + 1].sum()
            ages[sel] = lo + rng.choice(hi - lo + 1, size=len(sel), p=p)
    return ages


def _sizes(rng: np.random.Generator, people: int, households: int) -> np.ndarray:
    """Household sizes >= 1 summing to ``people``."""
    if households == 0:
        return np.empty(0, dtype=np.int64)
    extra = np.bincount(rng.integers(0, households, people - households), minlength=households)
    return 1 + extra


def _fill_households(rng: np.random.Generator, sizes: np.ndarray, adult: np.ndarray,
                     key: np.ndarray) -> np.ndarray:
    """Household index of a group of people (sizes sum to the group size): one adult head per
    household where possible, the other members by ascending ``key`` (groups alike people)."""
    k = len(sizes)
    hh = np.empty(len(adult), dtype=np.int64)
    adults = np.flatnonzero(adult)
    heads = rng.permutation(adults)[:k]
    hh[heads] = np.arange(len(heads))
    rest = np.ones(len(adult), dtype=bool)
    rest[heads] = False
    slots = np.repeat(np.arange(k), sizes - (np.arange(k) < len(heads)))
    idx = np.flatnonzero(rest)
    hh[idx[np.argsort(key[idx], kind="stable")]] = slots
    return hh


def _split_poor(rng: np.random.Generator, sizes: np.ndarray, n_poor: int,
                n_dep: int) -> tuple[np.ndarray, np.ndarray]:
    """Choose ``n_poor`` households (larger ones preferred) to hold ``n_dep`` deprived people;
    when they lack room, move members from the other households (never below one)."""
    k = len(sizes)
    poor = np.zeros(k, dtype=bool)
    poor[_top_k(rng, sizes.astype(float), n_poor)] = True
    sizes = sizes.copy()
    deficit = n_dep - int(sizes[poor].sum())
    if deficit > 0:
        others = np.flatnonzero(~poor)
        spare = np.repeat(others, sizes[others] - 1)
        take = spare[rng.permutation(len(spare))[:deficit]]
        np.subtract.at(sizes, take, 1)
        grow = np.flatnonzero(poor)[rng.integers(0, n_poor, deficit)]
        np.add.at(sizes, grow, 1)
    return poor, sizes


def _fill_poor(rng: np.random.Generator, sizes: np.ndarray, poor: np.ndarray,
               dep: np.ndarray, adult: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Household index of a group: deprived people only in poor households, at least one in
    each (adults first); the other places of poor households go to non-deprived people with
    the lowest ``key`` (card holders), the rest to the non-poor households."""
    hh = np.empty(len(dep), dtype=np.int64)
    poor_ids, rich_ids = np.flatnonzero(poor), np.flatnonzero(~poor)
    d, nd = np.flatnonzero(dep), np.flatnonzero(~dep)
    d = d[np.lexsort((rng.uniform(size=len(d)), ~adult[d]))]
    anchors, d_rest = d[:len(poor_ids)], d[len(poor_ids):]
    hh[anchors] = poor_ids
    free = int(sizes[poor_ids].sum()) - len(poor_ids) - len(d_rest)
    nd = nd[np.argsort(key[nd], kind="stable")]
    fill, nd_rest = nd[:free], nd[free:]
    others = np.concatenate([d_rest, fill])
    hh[others[rng.permutation(len(others))]] = np.repeat(poor_ids, sizes[poor_ids] - 1)
    if len(rich_ids):
        hh[nd_rest] = rich_ids[_fill_households(rng, sizes[rich_ids], adult[nd_rest],
                                                key[nd_rest])]
    return hh


#: BMN indicators that describe the household (water 4, 5; housing 8-11): deprived members
#: of a household share them (22, household income, is set from the income draw)
HH_IND = (4, 5, 8, 9, 10, 11)
#: co-occurrence of deprivations among deprived people who are not target poor (an
#: assumption, not calibrated to a published MPI: docs/calibration.md). Person i of household
#: h fails applicable indicator j with probability logistic(BASE_LOGIT + log w_j + SEVERITY
#: * s_h), s_h ~ N(0, 1) a household severity; household indicators are drawn once per
#: household; someone left with none fails one indicator drawn with weights w_j.
BASE_LOGIT = -1.8
SEVERITY = 2.0


def nontarget_fails(rng: np.random.Generator, fails: np.ndarray, hh: np.ndarray, n_hh: int,
                    people: np.ndarray, ages: np.ndarray, disabled: np.ndarray,
                    target: np.ndarray) -> None:
    """Set (in place) the indicators failed by ``people`` (deprived, not target poor): at
    least one each, applicable to their age (28: disabled only), never 22; household
    indicators are shared by the household's deprived members who are not target poor and
    include those of its target poor members."""
    if not len(people):
        return
    homes, inv = np.unique(hh[people], return_inverse=True)
    n_p, n_h = len(people), len(homes)
    a = ages[people]
    ok = np.zeros((n_p, len(IND)), dtype=bool)
    w = np.zeros(len(IND))
    for ind, weight in _NONTARGET_W.items():
        col = IND_POS[ind]
        w[col] = weight
        if ind in APPLIES:
            lo, hi = APPLIES[ind]
            ok[:, col] = (a >= lo) & (a <= hi)
        elif ind == 28:
            ok[:, col] = disabled[people]
        else:
            ok[:, col] = True
    hh_cols = np.array([IND_POS[i] for i in HH_IND])
    is_hh = np.zeros(len(IND), dtype=bool)
    is_hh[hh_cols] = True
    logw = np.log(np.maximum(w, 1e-300))
    severity = rng.standard_normal(n_h)
    logit = BASE_LOGIT + logw[None, :] + SEVERITY * severity[:, None]  # homes x IND
    p = 1.0 / (1.0 + np.exp(-logit))
    u = np.where(is_hh[None, :], rng.uniform(size=(n_h, len(IND)))[inv],
                 rng.uniform(size=(n_p, len(IND))))
    got = (u < p[inv]) & ok
    # household indicators of the target poor members of the same household
    if len(target):
        tp = fails[np.ix_(target, hh_cols)]
        shared = np.zeros((n_hh, len(hh_cols)), dtype=bool)
        for k in range(len(hh_cols)):
            shared[hh[target[tp[:, k]]], k] = True
        got[:, hh_cols] |= shared[hh[people]]
    # nobody deprived without an indicator: one drawn with weights (household noise shared)
    none = ~got.any(axis=1)
    if none.any():
        g = np.where(is_hh[None, :], rng.gumbel(size=(n_h, len(IND)))[inv[none]],
                     rng.gumbel(size=(int(none.sum()), len(IND))))
        keys = np.where(ok[none], logw[None, :] + g, -np.inf)
        choice = np.argmax(keys, axis=1)
        got[np.flatnonzero(none), choice] = True
    fails[people] |= got


def generate_unit(t: dict[str, int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """People of one unit as arrays of length ``t['persons']`` (``hh`` = local household index,
    ``income`` = household income per person)."""
    n, n_hh = t["persons"], t["households"]
    n_t, n_val, n_reg = t["target"], t["validated"], t["registered"]
    n_dep, n_dep_reg = t["deprived"], t["deprived_registered"]
    # 1. pools, in this order: target | val-only | reg-dep | reg-only | dep | none
    pool_sizes = [n_t, n_val - n_t, n_dep_reg - n_t, n_reg - n_val - (n_dep_reg - n_t),
                  n_dep - n_dep_reg, n - n_reg - (n_dep - n_dep_reg)]
    if min(pool_sizes) < 0:
        raise ValueError(f"unit {t.get('code')}: inconsistent counts {pool_sizes}")
    pool = np.repeat(np.arange(6, dtype=np.int8), pool_sizes)
    validated = pool <= 1
    registered = pool <= 3
    deprived = np.isin(pool, (0, 2, 4))
    # 2. target poor
    fails = np.zeros((n, len(IND)), dtype=bool)
    cls = np.full(n, -1, dtype=np.int8)
    fails[:n_t], cls[:n_t] = target_poor(t, rng)
    # 3. ages: fixed classes, then exactly t["elderly"] people aged 60+
    free = np.flatnonzero(cls == -1)
    need_old = t["elderly"] - int((cls == ELDERLY_CLASS).sum())
    if need_old < 0 or need_old > len(free):
        raise ValueError(f"unit {t.get('code')}: elderly count {t['elderly']} not reachable")
    old = free[_top_k(rng, np.ones(len(free)), need_old)]
    cls[old] = ELDERLY_CLASS
    young = np.flatnonzero(cls == -1)
    ages = _ages_of_class(rng, cls)
    ages[young] = rng.choice(60, size=len(young), p=_YOUNG_P)
    # 4. disabled (people failing BMN 28 first) and chronic, weighted towards old age
    old_w = np.where(ages >= 60, 4.0, np.where(ages >= 40, 1.5, 0.5))
    disabled = np.zeros(n, dtype=bool)
    must = np.flatnonzero(fails[:, IND_POS[28]])[: t["disabled"]]
    disabled[must] = True
    others = np.flatnonzero(~disabled)
    disabled[others[_top_k(rng, old_w[others], t["disabled"] - len(must))]] = True
    chronic = np.zeros(n, dtype=bool)
    chronic[_top_k(rng, old_w ** 1.5, t["chronic"])] = True
    # 6. households: target poor failing BMN 22 live in households of their own; deprived
    # people live in exactly t["poor_households"] households (TPMAP's poor households)
    in22 = fails[:, IND_POS[22]]
    g = int(in22.sum())
    n_poor = t.get("poor_households", min(n_dep, n_hh))
    rest_dep = n_dep - g
    h22 = 0
    if g and n_hh == 1 and g < n:
        raise ValueError(f"unit {t.get('code')}: one household cannot hold people both below "
                         "and above the BMN 22 income line")
    if g:
        h22 = int(np.clip(round(g * n_hh / n), 1, g))
        h22 = min(max(h22, n_poor - rest_dep), g)  # the others cannot fill more households
        h22 = min(h22, n_hh - (1 if n > g else 0), max(1, n_poor - (1 if rest_dep else 0)))
        h22 = max(h22, n_hh - (n - g))
    rest_hh = n_hh - h22
    lo = max(1 if rest_dep else 0, rest_hh - (n - g - rest_dep))
    rest_poor = int(np.clip(n_poor - h22, lo, min(rest_dep, rest_hh)))
    hh = np.empty(n, dtype=np.int64)
    adult = ages >= 18
    key = pool + rng.uniform(0.0, 2.5, n)  # card holders tend to share households
    p22, prest = np.flatnonzero(in22), np.flatnonzero(~in22)
    if g:
        hh[p22] = _fill_households(rng, _sizes(rng, g, h22), adult[p22], key[p22])
    sizes = _sizes(rng, n - g, rest_hh)
    poor, sizes = _split_poor(rng, sizes, rest_poor, rest_dep)
    hh[prest] = h22 + _fill_poor(rng, sizes, poor, deprived[prest], adult[prest], key[prest])
    # 5. deprived people who are not target poor: co-occurring indicators, household ones
    # shared by the household (see nontarget_fails)
    nontarget_fails(rng, fails, hh, n_hh, np.flatnonzero(deprived & ~validated), ages,
                    disabled, np.flatnonzero(validated & deprived))
    # 7. household income per person (log-normal, truncated at the BMN 22 line)

    z22 = (np.log(BMN22_LINE) - np.log(INCOME_MEDIAN)) / INCOME_SIGMA
    cut = ndtr(z22)
    # households with a validated welfare card holder mostly meet the card's income test
    card_hh = np.zeros(n_hh, dtype=bool)
    card_hh[hh[validated]] = True
    cap = ndtr((np.log(CARD_INCOME_LIMIT) - np.log(INCOME_MEDIAN)) / INCOME_SIGMA)
    upper = np.where(card_hh & (rng.uniform(size=n_hh) < CARD_INCOME_SHARE), cap, 1.0)
    u = rng.uniform(size=n_hh)
    is22 = np.arange(n_hh) < h22
    q = np.where(is22, u * cut, cut + u * (upper - cut))
    q = np.clip(q, 1e-9, 1 - 1e-9)
    income_hh = np.exp(np.log(INCOME_MEDIAN) + INCOME_SIGMA * ndtri(q))
    income_hh = np.where(is22, np.minimum(income_hh, BMN22_LINE - 1),
                         np.maximum(income_hh, BMN22_LINE))
    income = income_hh[hh].astype(np.float32)
    return {
        "hh": hh, "age": ages, "validated": validated, "registered": registered,
        "deprived": deprived, "disabled": disabled, "chronic": chronic, "fails": fails,
        "income": income,
    }
