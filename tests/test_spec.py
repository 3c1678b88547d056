"""Indicator specifications: presets, weights, validation errors, rule language."""

from __future__ import annotations

import json

import polars as pl
import pytest

from service.analysis.spec import (
    load_spec,
    parse_spec,
    preset_names,
    rule_expr,
    validate_rule,
)
from service.errors import InvalidSpec

BASE = {
    "name": "t", "k": 0.5,
    "dimensions": ["a", "b"],
    "indicators": [
        {"name": "x", "dimension": "a"},
        {"name": "y", "dimension": "b", "rule": {"type": "cutoff", "op": "<", "cutoff": 3}},
        {"name": "z", "dimension": "b"},
    ],
}


def test_presets_ship_tpmap_and_union():
    assert {"tpmap", "tpmap_union"} <= set(preset_names())
    s = load_spec("tpmap")
    assert len(s.indicators) == 17
    assert s.dimension_names == ("health", "living", "education", "income", "accessibility")
    assert all(d.weight == pytest.approx(0.2) for d in s.dimensions)
    w = {i.name: i.weight for i in s.indicators}
    assert w["ind1"] == pytest.approx(0.05)      # 4 health indicators
    assert w["ind22"] == pytest.approx(0.2 / 3)  # 3 income indicators
    assert w["ind28"] == pytest.approx(0.1)      # 2 accessibility indicators
    assert sum(w.values()) == pytest.approx(1)
    assert s.k == pytest.approx(0.26)
    assert s.union.require_column == "welfare_card"
    assert s.crossgen_dimensions == ("health", "living", "education", "income")
    assert all(i.label_th and i.label_en for i in s.indicators)
    union = load_spec("tpmap_union")
    assert union.k == pytest.approx(min(w.values()))  # any single deprivation makes poor


def test_nested_and_explicit_weights():
    s = parse_spec(BASE)
    assert [i.weight for i in s.indicators] == pytest.approx([0.5, 0.25, 0.25])
    dims = parse_spec({**BASE, "dimensions": [{"name": "a", "weight": 0.2},
                                              {"name": "b", "weight": 0.8}]})
    assert [i.weight for i in dims.indicators] == pytest.approx([0.2, 0.4, 0.4])
    explicit = parse_spec({**BASE, "indicators": [
        {**i, "weight": w} for i, w in zip(BASE["indicators"], (0.1, 0.3, 0.6), strict=True)]})
    assert [d.weight for d in explicit.dimensions] == pytest.approx([0.1, 0.9])


@pytest.mark.parametrize(("change", "message"), [
    ({"k": 0}, "k"),
    ({"k": 1.5}, "k"),
    ({"k": "half"}, "k"),
    ({"k": None}, "required"),
    ({"bogus": 1}, "unknown key"),
    ({"missing": "guess"}, "missing"),
    ({"dimensions": []}, "dimensions"),
    ({"dimensions": ["a", "a"]}, "duplicate dimension"),
    ({"dimensions": ["a", "b", "c"]}, "without indicators: c"),
    ({"dimensions": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.6}]}, "sum to 1"),
    ({"indicators": [{"name": "x", "dimension": "zz"}]}, "'zz' is not one of a, b"),
    ({"indicators": [{"name": "x", "dimension": "a"}, {"name": "x", "dimension": "b"}]},
     "duplicate indicator"),
    ({"indicators": [{"name": "X Y", "dimension": "a"}]}, "lower-case"),
    ({"indicators": [{"name": "x", "dimension": "a", "weight": 0.5},
                     {"name": "y", "dimension": "b"}]}, "every indicator or to none"),
    ({"indicators": [{"name": "x", "dimension": "a", "weight": 0.5},
                     {"name": "y", "dimension": "b", "weight": 0.2}]}, "sum to 0.7"),
    ({"indicators": [{"name": "x", "dimension": "a", "rule": {"type": "cutoff", "op": "~",
                                                              "cutoff": 1}},
                     {"name": "y", "dimension": "b"}]}, "op '~'"),
    ({"indicators": [{"name": "x", "dimension": "a", "rule": {"type": "cutoff", "op": "<"}},
                     {"name": "y", "dimension": "b"}]}, "exactly 'op' and 'cutoff'"),
    ({"indicators": [{"name": "x", "dimension": "a", "rule": {"type": "flag", "cutoff": 1}},
                     {"name": "y", "dimension": "b"}]}, "no other keys"),
    ({"indicators": [{"name": "x", "dimension": "a",
                      "applies": {"column": "age", "op": "between", "value": [14, 6]}},
                     {"name": "y", "dimension": "b"}]}, "low <= high"),
    ({"union": {"dimensions": ["q"]}}, "union.dimensions"),
    ({"crossgen_dimensions": ["q"]}, "crossgen_dimensions"),
])
def test_invalid_specs_get_clear_errors(change, message):
    raw = {**BASE, **change}
    if change.get("k", 0.5) is None:
        raw.pop("k")
    with pytest.raises(InvalidSpec, match=message) as info:
        parse_spec(raw, source="my_spec.json")
    assert "my_spec.json" in str(info.value)
    assert "invalid specification" in str(info.value)  # English
    assert "ข้อกำหนดไม่ถูกต้อง" in str(info.value)        # and Thai


def test_files_json_yaml_and_errors(tmp_path):
    j = tmp_path / "s.json"
    j.write_text(json.dumps(BASE), encoding="utf-8")
    assert load_spec(j).name == "t"
    y = tmp_path / "s.yaml"
    y.write_text("name: t\nk: 0.5\ndimensions: [a, b]\nindicators:\n"
                 "  - {name: x, dimension: a}\n  - {name: y, dimension: b}\n", encoding="utf-8")
    assert [i.name for i in load_spec(y).indicators] == ["x", "y"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "t",\n "k": }', encoding="utf-8")
    with pytest.raises(InvalidSpec, match=r"bad\.json, row 2"):
        load_spec(bad)
    with pytest.raises(InvalidSpec, match="no such preset or file"):
        load_spec("no_such_thing")


def test_spec_copies_with_k_and_union():
    s = load_spec("tpmap")
    assert s.with_k(0.33).k == 0.33 and s.k == pytest.approx(0.26)
    with pytest.raises(InvalidSpec):
        s.with_k(0)
    u = s.with_union(["income"], None)
    assert u.union.dimensions == ("income",) and u.union.require_column is None
    with pytest.raises(InvalidSpec, match="unknown union dimension"):
        s.with_union(["wealth"])
    assert parse_spec(s.to_dict()) == s  # round trip


def test_rule_language():
    df = pl.DataFrame({"hh_id": ["a", "a", "b"], "age": [5, 40, None],
                       "sex": ["M", "F", "F"], "disabled": [None, True, False]})

    def ev(rule):
        validate_rule(rule, where="t")
        return df.with_columns(rule_expr(rule).alias("r"))["r"].to_list()

    assert ev({"column": "age", "op": "between", "value": [0, 17]}) == [True, False, False]
    assert ev({"column": "age", "op": ">=", "value": 18}) == [False, True, False]  # null: no
    assert ev({"column": "disabled"}) == [False, True, False]
    assert ev({"column": "sex", "op": "in", "value": ["F"]}) == [False, True, True]
    assert ev({"column": "age", "op": "in", "value": [5, 6]}) == [True, False, False]
    assert ev({"not": {"column": "disabled"}}) == [True, False, True]
    assert ev({"all": [{"column": "sex", "op": "==", "value": "F"},
                       {"column": "age", "op": ">", "value": 18}]}) == [False, True, False]
    assert ev({"any": [{"column": "disabled"}, {"column": "age", "op": "<", "value": 6}]}) == [
        True, True, False]
    assert ev({"household_any": {"column": "age", "op": "<", "value": 6}}) == [
        True, True, False]
    assert ev(True) == [True, True, True]
    for bad in ({"column": "age", "op": ">="}, {"all": []}, {"column": "a", "x": 1},
                {"not": {"column": "a"}, "all": [True]}, "age > 5"):
        with pytest.raises(InvalidSpec):
            validate_rule(bad, where="t")
