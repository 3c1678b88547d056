"""Indicator specifications (JSON or YAML) and the small rule language shared by
applicability, target groups and programme eligibility.

A specification lists indicators (name, source column, dimension, weight, deprivation
rule, optional applicability), the poverty cutoff ``k`` and the TPMAP union rule. Presets live
in ``service/analysis/presets``: ``tpmap`` (17 BMN indicators, 5 equally weighted dimensions,
nested equal indicator weights) and ``tpmap_union`` (TPMAP's "deprived in any indicator").

Rules are plain data so programmes and groups can change without code::

    {"column": "age", "op": ">=", "value": 60}
    {"column": "age", "op": "between", "value": [6, 14]}     # inclusive
    {"column": "disabled"}                                   # truthy (null = false)
    {"all": [...]}, {"any": [...]}, {"not": {...}}, true, false
    {"household_any": {...}}                                 # any member of the household

A comparison with a null value is false. See docs/mpi.md for the full format.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from service.errors import InvalidSpec

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
HOUSEHOLD_COLUMN = "hh_id"

#: what to do when an applicable indicator value is null
MISSING_RULES = ("drop", "not_deprived", "deprived")
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
RULE_OPS = (*COMPARISONS, "in", "between")
_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789_")
#: tolerance when comparing weighted sums of floats with a cutoff (c = 1/3 vs k = 1/3)
EPS = 1e-9


def spec_error(message: str, *, file: str | None, where: str | None = None) -> InvalidSpec:
    prefix = "ข้อกำหนดไม่ถูกต้อง / invalid specification"
    return InvalidSpec(f"{prefix}: {where + ': ' if where else ''}{message}", file=file)


# --------------------------------------------------------------------------- rules


def validate_rule(rule: Any, *, where: str, file: str | None = None) -> None:
    """Raise :class:`InvalidSpec` naming ``where`` when ``rule`` is not a valid rule."""
    if isinstance(rule, bool):
        return
    if not isinstance(rule, Mapping):
        raise spec_error(f"a rule must be an object or true/false, got {rule!r}", file=file, where=where)
    keys = set(rule)
    if keys & {"all", "any"}:
        if len(keys) != 1:
            raise spec_error("'all'/'any' must be the only key of its rule", file=file, where=where)
        (key,) = keys
        items = rule[key]
        if not isinstance(items, list) or not items:
            raise spec_error(f"'{key}' needs a non-empty list of rules", file=file, where=where)
        for i, sub in enumerate(items):
            validate_rule(sub, where=f"{where}.{key}[{i}]", file=file)
        return
    if keys & {"not", "household_any"}:
        if len(keys) != 1:
            raise spec_error("'not'/'household_any' must be the only key", file=file, where=where)
        (key,) = keys
        validate_rule(rule[key], where=f"{where}.{key}", file=file)
        return
    if "column" not in rule:
        raise spec_error("a rule needs 'column', 'all', 'any', 'not' or 'household_any'",
                   file=file, where=where)
    unknown = keys - {"column", "op", "value"}
    if unknown:
        raise spec_error(f"unknown key(s) {sorted(unknown)}", file=file, where=where)
    if not isinstance(rule["column"], str) or not rule["column"]:
        raise spec_error("'column' must be a column name", file=file, where=where)
    if "op" not in rule:
        if "value" in rule:
            raise spec_error("'value' given without 'op'", file=file, where=where)
        return
    op, value = rule["op"], rule.get("value")
    if op not in RULE_OPS:
        raise spec_error(f"op {op!r} is not one of {', '.join(RULE_OPS)}", file=file, where=where)
    if op == "between":
        if (not isinstance(value, list) or len(value) != 2
                or not all(_is_number(v) for v in value) or value[0] > value[1]):
            raise spec_error("'between' needs value [low, high] with low <= high", file=file,
                       where=where)
    elif op == "in":
        if not isinstance(value, list) or not value:
            raise spec_error("'in' needs a non-empty list value", file=file, where=where)
    elif value is None or isinstance(value, list | dict):
        raise spec_error(f"op {op!r} needs a single number, string or boolean value", file=file,
                   where=where)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def rule_columns(rule: Any) -> set[str]:
    """Columns a rule reads (``hh_id`` included when it looks at the household)."""
    if isinstance(rule, bool):
        return set()
    if "all" in rule or "any" in rule:
        return set().union(*(rule_columns(r) for r in rule.get("all", rule.get("any"))))
    if "not" in rule:
        return rule_columns(rule["not"])
    if "household_any" in rule:
        return rule_columns(rule["household_any"]) | {HOUSEHOLD_COLUMN}
    return {rule["column"]}


def rule_expr(rule: Any) -> pl.Expr:
    """Turn a (validated) rule into a boolean polars expression; null is never true."""
    if isinstance(rule, bool):
        return pl.lit(rule)
    if "all" in rule:
        return pl.all_horizontal([rule_expr(r) for r in rule["all"]])
    if "any" in rule:
        return pl.any_horizontal([rule_expr(r) for r in rule["any"]])
    if "not" in rule:
        return ~rule_expr(rule["not"])
    if "household_any" in rule:
        # a windowed count is faster than any().over in polars
        flag = rule_expr(rule["household_any"]).cast(pl.UInt32)
        return flag.sum().over(HOUSEHOLD_COLUMN) > 0
    col = pl.col(rule["column"])
    op = rule.get("op")
    if op is None:
        expr = col.cast(pl.Boolean)
    elif op == "between":
        lo, hi = rule["value"]
        expr = col.is_between(lo, hi, closed="both")
    elif op == "in":
        # equality per value: polars >= 2 refuses is_in across dtypes (Int16 vs Int64 list)
        expr = pl.any_horizontal([col == v for v in rule["value"]])
    else:
        expr = compare(col, op, rule["value"])
    return expr.fill_null(False)


def compare(col: pl.Expr, op: str, value: Any) -> pl.Expr:
    if op == "<":
        return col < value
    if op == "<=":
        return col <= value
    if op == ">":
        return col > value
    if op == ">=":
        return col >= value
    if op == "==":
        return col == value
    return col != value


# --------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class Dimension:
    name: str
    weight: float
    label_th: str = ""
    label_en: str = ""


@dataclass(frozen=True)
class Indicator:
    """One indicator: ``column`` is deprived by ``rule``; ``applies`` limits who it counts for.

    ``rule`` is ``{"type": "flag"}`` (deprived when the value is 1/true) or
    ``{"type": "cutoff", "op": "<", "cutoff": 38000}`` (deprived when ``value op cutoff``).
    """

    name: str
    column: str
    dimension: str
    weight: float
    rule: Mapping[str, Any]
    applies: Any = True
    missing: str = "not_deprived"
    label_th: str = ""
    label_en: str = ""

    @property
    def dep_column(self) -> str:
        return f"dep_{self.name}"


@dataclass(frozen=True)
class Union:
    """TPMAP's union rule: deprived in any selected dimension (optionally AND card holder)."""

    dimensions: tuple[str, ...]
    require_column: str | None = "welfare_card"


@dataclass(frozen=True)
class Spec:
    name: str
    dimensions: tuple[Dimension, ...]
    indicators: tuple[Indicator, ...]
    k: float
    union: Union
    vulnerable_cutoff: float = 0.20
    severe_cutoff: float = 0.50
    crossgen_dimensions: tuple[str, ...] = ()
    title_th: str = ""
    title_en: str = ""
    source: str | None = field(default=None, compare=False)

    @property
    def dimension_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)

    def indicators_of(self, dimension: str) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.dimension == dimension)

    def with_k(self, k: float) -> Spec:
        _check_fraction(k, "k", file=self.source, allow_zero=False)
        return replace(self, k=float(k))

    def with_union(self, dimensions: Sequence[str] | None = None,
                   require_column: str | bool | None = True) -> Spec:
        """Return a copy with other union dimensions and/or card requirement
        (``require_column=True`` keeps the current one, ``None``/``False`` drops it)."""
        dims = tuple(dimensions) if dimensions is not None else self.union.dimensions
        bad = [d for d in dims if d not in self.dimension_names]
        if bad or not dims:
            raise spec_error(f"unknown union dimension(s) {bad}; known: "
                       f"{', '.join(self.dimension_names)}", file=self.source)
        req = self.union.require_column if require_column is True else (require_column or None)
        return replace(self, union=Union(dims, req))

    def input_columns(self) -> set[str]:
        cols = {i.column for i in self.indicators}
        for ind in self.indicators:
            cols |= rule_columns(ind.applies)
        if self.union.require_column:
            cols.add(self.union.require_column)
        return cols

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "title_th": self.title_th, "title_en": self.title_en,
            "k": self.k, "vulnerable_cutoff": self.vulnerable_cutoff,
            "severe_cutoff": self.severe_cutoff,
            "dimensions": [{"name": d.name, "weight": d.weight, "label_th": d.label_th,
                            "label_en": d.label_en} for d in self.dimensions],
            "indicators": [{"name": i.name, "column": i.column, "dimension": i.dimension,
                            "weight": i.weight, "rule": dict(i.rule), "applies": i.applies,
                            "missing": i.missing, "label_th": i.label_th,
                            "label_en": i.label_en} for i in self.indicators],
            "union": {"dimensions": list(self.union.dimensions),
                      "require_column": self.union.require_column},
            "crossgen_dimensions": list(self.crossgen_dimensions),
        }


def _check_fraction(value: Any, where: str, *, file: str | None, allow_zero: bool = True) -> None:
    if not _is_number(value) or not (0 <= value <= 1) or (not allow_zero and value == 0):
        low = "0 <=" if allow_zero else "0 <"
        raise spec_error(f"must be a number with {low} value <= 1, got {value!r}", file=file,
                   where=where)


def check_name(value: Any, where: str, file: str | None) -> str:
    if not isinstance(value, str) or not value or not set(value) <= _NAME_OK:
        raise spec_error(f"name must be lower-case letters, digits or _, got {value!r}", file=file,
                   where=where)
    return value


def _labels(raw: Mapping[str, Any]) -> dict[str, str]:
    return {"label_th": str(raw.get("label_th", "")), "label_en": str(raw.get("label_en", ""))}


def parse_spec(raw: Any, *, source: str | None = None) -> Spec:
    """Validate a decoded specification and return a :class:`Spec` (weights resolved)."""
    f = source
    if not isinstance(raw, Mapping):
        raise spec_error("the specification must be an object", file=f)
    known = {"name", "title_th", "title_en", "k", "vulnerable_cutoff", "severe_cutoff",
             "missing", "dimensions", "indicators", "union", "crossgen_dimensions",
             "description"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise spec_error(f"unknown key(s) {unknown}", file=f)
    name = check_name(raw.get("name", "custom"), "name", f)
    default_missing = raw.get("missing", "drop")
    if default_missing not in MISSING_RULES:
        raise spec_error(f"must be one of {', '.join(MISSING_RULES)}", file=f, where="missing")

    raw_dims = raw.get("dimensions")
    if not isinstance(raw_dims, list) or not raw_dims:
        raise spec_error("'dimensions' must be a non-empty list", file=f)
    dim_names: list[str] = []
    dim_weights: list[float | None] = []
    dim_labels: list[dict[str, str]] = []
    for i, d in enumerate(raw_dims):
        where = f"dimensions[{i}]"
        if isinstance(d, str):
            d = {"name": d}
        if not isinstance(d, Mapping):
            raise spec_error("a dimension must be a name or an object", file=f, where=where)
        dn = check_name(d.get("name"), where + ".name", f)
        if dn in dim_names:
            raise spec_error(f"duplicate dimension {dn!r}", file=f, where=where)
        w = d.get("weight")
        if w is not None:
            _check_fraction(w, where + ".weight", file=f, allow_zero=False)
        dim_names.append(dn)
        dim_weights.append(w)
        dim_labels.append(_labels(d))

    raw_inds = raw.get("indicators")
    if not isinstance(raw_inds, list) or not raw_inds:
        raise spec_error("'indicators' must be a non-empty list", file=f)
    parsed: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, ind in enumerate(raw_inds):
        where = f"indicators[{i}]"
        if not isinstance(ind, Mapping):
            raise spec_error("an indicator must be an object", file=f, where=where)
        extra = sorted(set(ind) - {"name", "column", "dimension", "weight", "rule", "applies",
                                   "missing", "label_th", "label_en", "description"})
        if extra:
            raise spec_error(f"unknown key(s) {extra}", file=f, where=where)
        iname = check_name(ind.get("name"), where + ".name", f)
        where = f"indicator {iname!r}"
        if iname in seen:
            raise spec_error("duplicate indicator name", file=f, where=where)
        seen.add(iname)
        column = ind.get("column", iname)
        if not isinstance(column, str) or not column:
            raise spec_error("'column' must be a column name", file=f, where=where)
        dim = ind.get("dimension")
        if dim not in dim_names:
            raise spec_error(f"dimension {dim!r} is not one of {', '.join(dim_names)}", file=f,
                       where=where)
        rule = ind.get("rule", {"type": "flag"})
        _validate_deprivation_rule(rule, where=where + ".rule", file=f)
        applies = ind.get("applies", True)
        validate_rule(applies, where=where + ".applies", file=f)
        missing = ind.get("missing", default_missing)
        if missing not in MISSING_RULES:
            raise spec_error(f"'missing' must be one of {', '.join(MISSING_RULES)}", file=f,
                       where=where)
        w = ind.get("weight")
        if w is not None:
            _check_fraction(w, where + ".weight", file=f, allow_zero=False)
        parsed.append({"name": iname, "column": column, "dimension": dim, "weight": w,
                       "rule": dict(rule), "applies": applies, "missing": missing,
                       **_labels(ind)})

    empty = [d for d in dim_names if not any(p["dimension"] == d for p in parsed)]
    if empty:
        raise spec_error(f"dimension(s) without indicators: {', '.join(empty)}", file=f)
    weights = _resolve_weights(parsed, dim_names, dim_weights, file=f)
    dims = tuple(
        Dimension(n, weights["dims"][n], **lab) for n, lab in zip(dim_names, dim_labels,
                                                                 strict=True)
    )
    indicators = tuple(Indicator(**{**p, "weight": weights["inds"][p["name"]]}) for p in parsed)

    k_raw = raw.get("k")
    min_w = min(i.weight for i in indicators)
    if k_raw == "union":
        k = min_w
    else:
        if k_raw is None:
            raise spec_error("'k' (poverty cutoff, 0 < k <= 1, or \"union\") is required", file=f)
        _check_fraction(k_raw, "k", file=f, allow_zero=False)
        k = float(k_raw)
    vul = raw.get("vulnerable_cutoff", 0.20)
    sev = raw.get("severe_cutoff", 0.50)
    _check_fraction(vul, "vulnerable_cutoff", file=f)
    _check_fraction(sev, "severe_cutoff", file=f)

    raw_union = raw.get("union", {})
    if not isinstance(raw_union, Mapping):
        raise spec_error("'union' must be an object", file=f)
    u_dims = raw_union.get("dimensions", dim_names)
    if not isinstance(u_dims, list) or not u_dims or any(d not in dim_names for d in u_dims):
        raise spec_error(f"'union.dimensions' must list some of {', '.join(dim_names)}", file=f)
    req = raw_union.get("require_column", "welfare_card")
    if req is not None and (not isinstance(req, str) or not req):
        raise spec_error("'union.require_column' must be a column name or null", file=f)

    cg = raw.get("crossgen_dimensions", [])
    if not isinstance(cg, list) or any(d not in dim_names for d in cg):
        raise spec_error(f"'crossgen_dimensions' must list some of {', '.join(dim_names)}", file=f)

    return Spec(name=name, dimensions=dims, indicators=indicators, k=k,
                union=Union(tuple(u_dims), req), vulnerable_cutoff=float(vul),
                severe_cutoff=float(sev), crossgen_dimensions=tuple(cg),
                title_th=str(raw.get("title_th", "")), title_en=str(raw.get("title_en", "")),
                source=source)


def _validate_deprivation_rule(rule: Any, *, where: str, file: str | None) -> None:
    if not isinstance(rule, Mapping) or rule.get("type") not in ("flag", "cutoff"):
        raise spec_error("rule must be {\"type\": \"flag\"} or {\"type\": \"cutoff\", \"op\": \"<\", "
                   "\"cutoff\": number}", file=file, where=where)
    if rule["type"] == "flag":
        if set(rule) != {"type"}:
            raise spec_error("a flag rule takes no other keys", file=file, where=where)
        return
    if set(rule) != {"type", "op", "cutoff"}:
        raise spec_error("a cutoff rule needs exactly 'op' and 'cutoff'", file=file, where=where)
    if rule["op"] not in COMPARISONS:
        raise spec_error(f"op {rule['op']!r} is not one of {', '.join(COMPARISONS)}", file=file,
                   where=where)
    if not _is_number(rule["cutoff"]):
        raise spec_error(f"cutoff must be a finite number, got {rule['cutoff']!r}", file=file,
                   where=where)


def _resolve_weights(parsed: list[dict[str, Any]], dim_names: list[str],
                     dim_weights: list[float | None], *, file: str | None) -> dict[str, Any]:
    """Explicit indicator weights (all or none) or nested: dimension weight / n indicators."""
    given = [p["weight"] is not None for p in parsed]
    if any(given) and not all(given):
        missing = [p["name"] for p in parsed if p["weight"] is None]
        raise spec_error(f"give a weight to every indicator or to none; missing: {missing}",
                   file=file)
    if all(given):
        total = sum(p["weight"] for p in parsed)
        if abs(total - 1) > 1e-6:
            raise spec_error(f"indicator weights must sum to 1, they sum to {total:.6g}", file=file)
        inds = {p["name"]: float(p["weight"]) for p in parsed}
        dims = {d: sum(inds[p["name"]] for p in parsed if p["dimension"] == d)
                for d in dim_names}
        return {"inds": inds, "dims": dims}
    dgiven = [w is not None for w in dim_weights]
    if any(dgiven) and not all(dgiven):
        raise spec_error("give a weight to every dimension or to none", file=file)
    if all(dgiven):
        total = sum(w for w in dim_weights if w is not None)
        if abs(total - 1) > 1e-6:
            raise spec_error(f"dimension weights must sum to 1, they sum to {total:.6g}", file=file)
        dims = {d: float(w) for d, w in zip(dim_names, dim_weights, strict=True) if w is not None}
    else:
        dims = {d: 1.0 / len(dim_names) for d in dim_names}
    counts = {d: sum(1 for p in parsed if p["dimension"] == d) for d in dim_names}
    inds = {p["name"]: dims[p["dimension"]] / counts[p["dimension"]] for p in parsed}
    return {"inds": inds, "dims": dims}


def read_document(path: str | Path) -> Any:
    """Decode a JSON or YAML file; errors name the file (and line when the parser knows it)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InvalidSpec(f"ไม่พบไฟล์ / file not found: {p}", file=str(p)) from exc
    except UnicodeDecodeError as exc:
        raise InvalidSpec("ไฟล์ต้องเป็น UTF-8 / the file must be UTF-8 text",
                          file=str(p)) from exc
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidSpec(f"YAML อ่านไม่ได้ / cannot parse YAML: {exc}", file=str(p)) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidSpec(f"JSON อ่านไม่ได้ / cannot parse JSON: {exc.msg}", file=str(p),
                          row=exc.lineno) from exc


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.json") if p.stem != "programmes")


def load_spec(name_or_path: str | Path) -> Spec:
    """Load a preset by name (``tpmap``, ``tpmap_union``) or a JSON/YAML file."""
    text = str(name_or_path)
    preset = PRESETS_DIR / f"{text}.json"
    if text in preset_names():
        return parse_spec(read_document(preset), source=f"preset:{text}")
    path = Path(text)
    if not path.exists():
        raise InvalidSpec(f"ไม่พบข้อกำหนด / no such preset or file {text!r}; presets: "
                          f"{', '.join(preset_names())}", file=text)
    return parse_spec(read_document(path), source=str(path))
