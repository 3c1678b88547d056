"""The domain vocabulary is declared once (service/vocabulary.py) and means what it says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service import vocabulary as v
from service.errors import InvalidInput

ROOT = Path(__file__).resolve().parent.parent

#: regular expressions (or their text) of area codes, dataset names, H3 cells, in any
#: spelling seen in the wave-1 copies: \d or [0-9], anchored or not
STRAY = [
    re.compile(r"TH(\\\\?d|\[0-9\])\{\d"),          # TH\d{2}, TH[0-9]{4} ...
    re.compile(r"\[0-9a-f\]\{15\}"),                  # H3 cell
    re.compile(r"\[a-z0-9\]\[a-z0-9_-\]"),            # dataset names
    re.compile(r"\[A-Za-z0-9\]\[A-Za-z0-9_\.:-\]"),  # version ids
]


def _sources():
    for folder in ("service", "boundaries"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path != ROOT / "service" / "vocabulary.py":
                yield path


def test_no_stray_copies_of_the_code_patterns():
    found = []
    for path in _sources():
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if any(p.search(line) for p in STRAY):
                found.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert not found, "declare code patterns in service/vocabulary.py only:\n" + "\n".join(found)


def test_the_grep_finds_what_it_looks_for():
    """The check above is not vacuous: each wave-1 spelling is caught."""
    for text in (r'_CODE_RE = {"province": r"^TH\d{2}$"}', '"pattern": "^TH[0-9]{2}$"',
                 r're.compile(r"^[0-9a-f]{15}$")', '"^[a-z0-9][a-z0-9_-]{0,63}$"',
                 r'"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"'):
        assert any(p.search(text) for p in STRAY), text


def test_no_second_declaration_of_levels_groups_or_programmes():
    literals = {
        "levels": re.compile(r'\(\s*"country",\s*"province",\s*"amphoe"'),
        "groups": re.compile(r'\(\s*"child",\s*"woman",\s*"elderly"'),
        "programmes": re.compile(r'\(\s*"welfare_card",\s*"elderly_allowance"'),
        "indicators": re.compile(r'\(\s*"ind1",\s*"ind4"'),
    }
    found = [f"{path.relative_to(ROOT)}: {name}" for path in _sources()
             for name, pattern in literals.items()
             if pattern.search(path.read_text(encoding="utf-8"))]
    assert not found, found


@pytest.mark.parametrize(("code", "level"), [
    ("TH", "country"), ("TH50", "province"), ("TH5001", "amphoe"), ("TH500101", "tambon"),
    ("TH50010101", "village"), ("8765a4fffffffff", None), ("TH5", None), ("th50", None),
    ("TH๕๐", None), ("", None), (None, None),
])
def test_level_of(code, level):
    assert v.level_of(code) == level


def test_level_of_h3_cells():
    import h3

    for res in v.H3_RESOLUTIONS:
        cell = h3.latlng_to_cell(18.79, 98.98, res)
        assert v.level_of(cell) == f"h3_r{res}"
        assert v.check_code(f"h3_r{res}", cell) == cell
        with pytest.raises(InvalidInput):
            v.check_code(f"h3_r{res % 9 + 6 if res < 9 else 6}", cell)


def test_check_code_and_dataset_name_answer_422_in_thai_and_english():
    with pytest.raises(InvalidInput, match="ไม่ใช่รหัสระดับ") as err:
        v.check_code("amphoe", "TH50")
    assert err.value.column == "code"
    assert v.check_code("tambon", "TH500101") == "TH500101"
    for bad in ("Demo", "-x", "a" * 65, "ข้อมูล", "a b"):
        with pytest.raises(InvalidInput, match="ชื่อชุดข้อมูลไม่ถูกต้อง"):
            v.check_dataset_name(bad)
    assert v.check_dataset_name("tpmap_2566-b") == "tpmap_2566-b"


def test_levels_and_their_relations():
    assert v.LEVELS == v.ADMIN_LEVELS + v.H3_LEVELS
    assert set(v.CHILD_LEVEL) | set(v.CHILD_LEVEL.values()) == set(v.LEVELS)
    for parent, child in v.CHILD_LEVEL.items():
        assert v.PARENT_LEVEL[child] == parent
        assert v.LEVELS.index(child) == v.LEVELS.index(parent) + 1
    assert set(v.LEVEL_LABELS) == set(v.LEVELS)


def test_labels_are_thai_and_english_and_indicators_belong_to_one_dimension():
    thai = re.compile(r"[\u0e00-\u0e7f]")
    for table in (v.GROUPS, v.GROUP_DEFINITIONS, v.PROGRAMMES, v.DIMENSIONS, v.INDICATORS,
                  v.ROLES, v.LEVEL_LABELS):
        for key, label in table.items():
            assert thai.search(label.th) and label.en and not thai.search(label.en), key
            assert label.both == f"{label.th} · {label.en}"
    assert set(v.GROUP_DEFINITIONS) == set(v.GROUPS)
    listed = [i for inds in v.DIMENSION_INDICATORS.values() for i in inds]
    assert sorted(listed) == sorted(v.INDICATORS) and len(listed) == len(set(listed)) == 17
    assert set(v.DIMENSION_INDICATORS) == set(v.DIMENSIONS)


def test_the_tpmap_specification_uses_the_vocabulary():
    """The shipped indicator specification and programme presets name the same
    dimensions, indicators and programmes."""
    from service.analysis.coverage import load_programmes
    from service.analysis.spec import load_spec

    spec = load_spec("tpmap")
    by_dim: dict[str, list[str]] = {}
    for ind in spec.indicators:
        by_dim.setdefault(ind.dimension, []).append(ind.name)
    assert {d: tuple(i) for d, i in by_dim.items()} == v.DIMENSION_INDICATORS
    assert [p.name for p in load_programmes().programmes] == list(v.PROGRAMMES)


def _is_label(node) -> bool:
    """A (Thai, English) pair of string literals, the Thai one in Thai script."""
    import ast

    if not isinstance(node, ast.Tuple | ast.List) or len(node.elts) < 2:
        return False
    texts = [e.value for e in node.elts if isinstance(e, ast.Constant)
             and isinstance(e.value, str)]
    return len(texts) == len(node.elts) and any("\u0e00" <= ch <= "\u0e7f" for ch in texts[0])


def _label_tables(source: str) -> list[tuple[int, set[str]]]:
    """Dict literals of string keys and (Thai, English) label values: (line, keys)."""
    import ast

    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict) and node.keys and all(
                isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys) \
                and all(_is_label(val) for val in node.values):
            out.append((node.lineno, {k.value for k in node.keys}))  # type: ignore[union-attr]
    return out


def test_no_second_table_of_group_programme_or_dimension_labels():
    """A dict keyed by every target group, programme or dimension is a second declaration
    of their names (service/export/xlsx.py and usecases/profile.py held such copies, and
    they disagreed with the vocabulary: คนพิการ / ผู้พิการ)."""
    families = {"groups": set(v.GROUPS), "programmes": set(v.PROGRAMMES),
                "dimensions": set(v.DIMENSIONS)}
    found = [f"{path.relative_to(ROOT)}:{line}: {name}" for path in _sources()
             for line, keys in _label_tables(path.read_text(encoding="utf-8"))
             for name, ids in families.items() if ids <= keys]
    assert not found, "name them from service.vocabulary:\n" + "\n".join(found)


def test_the_label_table_check_sees_a_copy():
    pair = '("ก", "x")'
    copy = (f'G = {{"child": {pair}, "woman": {pair}, "elderly": {pair}, "disabled": {pair}, '
            f'"chronic": {pair}}}\n'
            'RULES = {"child": {"column": "age"}, "woman": 1, "elderly": 1, "disabled": 1, '
            '"chronic": 1}\n')
    tables = _label_tables(copy)
    assert [line for line, keys in tables if set(v.GROUPS) <= keys] == [1]
