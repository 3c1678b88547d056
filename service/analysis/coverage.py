"""Programme coverage: eligibility and receipt per programme, exclusion (ตกหล่น) and inclusion
errors, and coverage of the nine social-protection contingencies.

Rules are data (``presets/programmes.json``); this module only evaluates them with polars:
``elig_<p>`` = the programme's eligibility rule, ``cov_<p>`` = its receipt rule. Excluded =
eligible and not covered; inclusion error = covered and not eligible; the coverage ratio is
covered-and-eligible / eligible, computed from summed counts (see
:func:`service.analysis.mpi.ratios_from_counts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from service.analysis.spec import (
    PRESETS_DIR,
    check_name,
    read_document,
    rule_columns,
    rule_expr,
    spec_error,
    validate_rule,
)

DEFAULT_PROGRAMMES = PRESETS_DIR / "programmes.json"
#: the nine contingencies of social protection (ILO C102); a programmes file must list them all
NINE_CONTINGENCIES = ("sickness", "maternity", "death", "invalidity", "family", "old_age",
                      "unemployment", "dependants", "employment_injury")


@dataclass(frozen=True)
class Programme:
    name: str
    eligible: Any
    covered: Any
    contingencies: tuple[str, ...] = ()
    label_th: str = ""
    label_en: str = ""

    def columns(self) -> set[str]:
        return rule_columns(self.eligible) | rule_columns(self.covered)


@dataclass(frozen=True)
class Programmes:
    programmes: tuple[Programme, ...]
    contingencies: tuple[tuple[str, str, str], ...]  # (name, label_th, label_en)
    source: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.programmes)

    def input_columns(self) -> set[str]:
        return set().union(*(p.columns() for p in self.programmes)) if self.programmes else set()


def parse_programmes(raw: Any, *, source: str | None = None) -> Programmes:
    """Validate a decoded programmes document (see ``presets/programmes.json``)."""
    f = source
    if not isinstance(raw, Mapping) or not isinstance(raw.get("programmes"), list):
        raise spec_error("a programmes file is an object with a 'programmes' list", file=f)
    conts_raw = raw.get("contingencies", [])
    if not isinstance(conts_raw, list):
        raise spec_error("'contingencies' must be a list", file=f)
    conts: list[tuple[str, str, str]] = []
    for i, c in enumerate(conts_raw):
        if not isinstance(c, Mapping):
            raise spec_error("a contingency must be an object", file=f, where=f"contingencies[{i}]")
        conts.append((check_name(c.get("name"), f"contingencies[{i}].name", f),
                      str(c.get("label_th", "")), str(c.get("label_en", ""))))
    cont_names = [c[0] for c in conts]
    if conts and sorted(cont_names) != sorted(NINE_CONTINGENCIES):
        raise spec_error(f"'contingencies' must be the nine: {', '.join(NINE_CONTINGENCIES)}", file=f)
    progs: list[Programme] = []
    for i, p in enumerate(raw["programmes"]):
        where = f"programmes[{i}]"
        if not isinstance(p, Mapping):
            raise spec_error("a programme must be an object", file=f, where=where)
        extra = sorted(set(p) - {"name", "label_th", "label_en", "eligible", "covered",
                                 "contingencies", "description"})
        if extra:
            raise spec_error(f"unknown key(s) {extra}", file=f, where=where)
        name = check_name(p.get("name"), where + ".name", f)
        where = f"programme {name!r}"
        if name in {q.name for q in progs}:
            raise spec_error("duplicate programme", file=f, where=where)
        for key in ("eligible", "covered"):
            if key not in p:
                raise spec_error(f"'{key}' rule is required", file=f, where=where)
            validate_rule(p[key], where=f"{where}.{key}", file=f)
        pc = p.get("contingencies", [])
        if not isinstance(pc, list) or any(c not in cont_names for c in pc):
            raise spec_error(f"'contingencies' must list some of {', '.join(cont_names) or '(none)'}",
                       file=f, where=where)
        progs.append(Programme(name, p["eligible"], p["covered"], tuple(pc),
                               str(p.get("label_th", "")), str(p.get("label_en", ""))))
    return Programmes(tuple(progs), tuple(conts), source)


def load_programmes(path: str | Path | None = None) -> Programmes:
    """Load ``programmes.json`` (the shipped preset when ``path`` is None)."""
    p = Path(path) if path is not None else DEFAULT_PROGRAMMES
    return parse_programmes(read_document(p), source=str(p))


def programme_exprs(programmes: Programmes) -> list[pl.Expr]:
    """``elig_<p>`` and ``cov_<p>`` boolean columns (null inputs count as false)."""
    exprs: list[pl.Expr] = []
    for p in programmes.programmes:
        exprs.append(rule_expr(p.eligible).alias(f"elig_{p.name}"))
        exprs.append(rule_expr(p.covered).alias(f"cov_{p.name}"))
    return exprs


def contingency_exprs(programmes: Programmes) -> list[pl.Expr]:
    """Per person: ``cont_<c>`` (covered by a programme the person receives) for the nine
    contingencies and ``n_contingencies`` (0-9). Needs the ``cov_<p>`` columns."""
    exprs: list[pl.Expr] = []
    for name, _, _ in programmes.contingencies:
        covering = [pl.col(f"cov_{p.name}") for p in programmes.programmes
                    if name in p.contingencies]
        expr = pl.any_horizontal(covering) if covering else pl.lit(False)
        exprs.append(expr.alias(f"cont_{name}"))
    total = pl.sum_horizontal([e.cast(pl.Int8) for e in exprs]) if exprs else pl.lit(0)
    return [*exprs, total.cast(pl.Int8).alias("n_contingencies")]


def coverage_count_exprs(programmes: Programmes, weight: str | None = None) -> list[pl.Expr]:
    """Aggregations n_elig_<p>, n_cov_<p>, n_excl_<p>, n_incl_err_<p> (contract §3);
    weighted sums when ``weight`` names a survey-weight column."""

    def count(flag: pl.Expr, name: str) -> pl.Expr:
        if weight is None:
            return flag.cast(pl.Int64).sum().alias(name)
        return (pl.col(weight).cast(pl.Float64) * flag.cast(pl.Float64)).sum().alias(name)

    out: list[pl.Expr] = []
    for p in programmes.programmes:
        e, c = pl.col(f"elig_{p.name}"), pl.col(f"cov_{p.name}")
        out += [
            count(e, f"n_elig_{p.name}"),
            count(c, f"n_cov_{p.name}"),
            count(e & ~c, f"n_excl_{p.name}"),
            count(c & ~e, f"n_incl_err_{p.name}"),
        ]
    return out


def coverage_table(counts: Mapping[str, Any], programmes: Programmes) -> list[dict[str, Any]]:
    """One record per programme from a row of summed counts (ratios from sums)."""
    rows = []
    for p in programmes.programmes:
        elig = counts.get(f"n_elig_{p.name}")
        if elig is None:
            continue
        excl = counts[f"n_excl_{p.name}"]
        cov = counts[f"n_cov_{p.name}"]
        incl = counts[f"n_incl_err_{p.name}"]
        rows.append({
            "programme": p.name, "label_th": p.label_th, "label_en": p.label_en,
            "eligible": elig, "covered": cov, "covered_eligible": elig - excl,
            "excluded": excl, "inclusion_errors": incl,
            "coverage": (elig - excl) / elig if elig else None,
            "exclusion_rate": excl / elig if elig else None,
            "inclusion_error_rate": incl / cov if cov else None,
        })
    return rows


def contingency_table(frame: pl.DataFrame | pl.LazyFrame, programmes: Programmes, *,
                      weight: str | None = None) -> dict[str, Any]:
    """Share of persons covered for each of the nine contingencies, and the distribution of
    the number of contingencies covered per person. Needs ``cov_<p>`` columns."""
    lf = frame.lazy().with_columns(contingency_exprs(programmes))
    w = pl.col(weight).cast(pl.Float64) if weight else pl.lit(1.0)
    names = [c[0] for c in programmes.contingencies]
    agg = lf.select(
        (w * pl.lit(1.0)).sum().alias("n") if weight else pl.len().alias("n"),
        *[(w * pl.col(f"cont_{c}")).sum().alias(c) for c in names],
        *[(w * (pl.col("n_contingencies") == i)).sum().alias(f"k{i}")
          for i in range(len(names) + 1)],
    ).collect().row(0, named=True)
    n = agg["n"]
    labels = {c[0]: c[1:] for c in programmes.contingencies}
    return {
        "n": n,
        "contingencies": [
            {"contingency": c, "label_th": labels[c][0], "label_en": labels[c][1],
             "covered": agg[c], "share": agg[c] / n if n else None} for c in names
        ],
        "persons_by_number_covered": {str(i): agg[f"k{i}"] for i in range(len(names) + 1)},
    }
