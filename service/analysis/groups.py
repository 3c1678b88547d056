"""Target groups (children, women, elderly, disabled, chronically ill) and the
cross-generational poor household flag.

Group definitions are rules (the language of :mod:`service.analysis.spec`), one per
``grp_<name>`` column of docs/CONTRACT.md §2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from service.analysis.spec import HOUSEHOLD_COLUMN, rule_columns, rule_expr
from service.vocabulary import GROUP_DEFINITIONS, GROUPS

#: group name -> rule (the groups and their labels: service.vocabulary.GROUPS)
GROUP_RULES: dict[str, Any] = {
    "child": {"column": "age", "op": "<", "value": 18},
    "woman": {"all": [{"column": "sex", "op": "==", "value": "F"},
                      {"column": "age", "op": ">=", "value": 18}]},
    "elderly": {"column": "age", "op": ">=", "value": 60},
    "disabled": {"column": "disabled"},
    "chronic": {"column": "chronic"},
}
assert tuple(GROUP_RULES) == tuple(GROUPS), "a rule for every group of the vocabulary"
#: group name -> (rule, label_th, label_en) with the group's definition as its label
TARGET_GROUPS: dict[str, tuple[Any, str, str]] = {
    g: (rule, GROUP_DEFINITIONS[g].th, GROUP_DEFINITIONS[g].en)
    for g, rule in GROUP_RULES.items()}

#: age bands for decomposition (`--by age_group`): BMN indicator ages and the target groups
AGE_GROUPS = ((0, 5, "00-05"), (6, 14, "06-14"), (15, 17, "15-17"), (18, 59, "18-59"),
              (60, 200, "60+"))


def age_group_expr() -> pl.Expr:
    """``age_group`` label from ``age`` (null age -> null group)."""
    expr: Any = pl
    for lo, hi, label in AGE_GROUPS:
        expr = expr.when(pl.col("age").is_between(lo, hi, closed="both")).then(pl.lit(label))
    return expr.otherwise(None).alias("age_group")


#: a cross-generational household has a member aged 0 to this age (inclusive)
CROSSGEN_CHILD_MAX_AGE = 18


def group_columns() -> set[str]:
    return set().union(*(rule_columns(rule) for rule, _, _ in TARGET_GROUPS.values()))


def group_exprs() -> list[pl.Expr]:
    """``grp_<name>`` booleans (a null input puts the person outside the group)."""
    return [rule_expr(rule).alias(f"grp_{name}") for name, (rule, _, _) in TARGET_GROUPS.items()]


def household_any(flag: pl.Expr) -> pl.Expr:
    """True on every member when any member's ``flag`` is true (null = false).

    A count summed over the household is 2-3x faster in polars than ``any().over`` and
    several such window sums in one context share the household grouping."""
    return flag.fill_null(False).cast(pl.UInt32).sum().over(HOUSEHOLD_COLUMN) > 0


def crossgen_parts(dimensions: Sequence[str]) -> tuple[pl.Expr, pl.Expr]:
    """The two per-person flags of :func:`crossgen_expr`: a child aged 0-18, deprived in at
    least one of ``dimensions``."""
    child = pl.col("age") <= CROSSGEN_CHILD_MAX_AGE
    if dimensions:
        deprived = pl.any_horizontal([pl.col(f"tpmap_dim_{d}") for d in dimensions])
    else:
        deprived = pl.lit(False)
    return child, deprived


def crossgen_expr(dimensions: Sequence[str]) -> pl.Expr:
    """``hh_crossgen``: the household has a child aged 0-18 AND some member is deprived in
    at least one of ``dimensions`` (TPMAP: health, living, education, income). Needs
    ``age``, ``hh_id`` and the ``tpmap_dim_<dim>`` columns."""
    child, deprived = crossgen_parts(dimensions)
    return (household_any(child) & household_any(deprived)).alias("hh_crossgen")
