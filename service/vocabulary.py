"""The domain vocabulary, declared once: area levels and their codes, dataset names, target
groups, welfare programmes, MPI dimensions and indicators, and user roles, each with its Thai
and English label.

Every other module imports these names; none repeats them (tests/test_vocabulary.py greps the
tree for stray copies of the code patterns). Pure Python: no pandas, no Flask.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from service.errors import InvalidInput


class Label(NamedTuple):
    """A name for people: Thai first, English beside it."""

    th: str
    en: str

    @property
    def both(self) -> str:
        return f"{self.th} · {self.en}"


# -- area levels -----------------------------------------------------------------------------
ADMIN_LEVELS: tuple[str, ...] = ("country", "province", "amphoe", "tambon", "village")
H3_RESOLUTIONS: tuple[int, ...] = (6, 7, 8, 9)
H3_LEVELS: tuple[str, ...] = tuple(f"h3_r{r}" for r in H3_RESOLUTIONS)
LEVELS: tuple[str, ...] = ADMIN_LEVELS + H3_LEVELS
#: the admin levels held in the boundary files (country and village are not polygons there)
BOUNDARY_LEVELS: tuple[str, ...] = ("province", "amphoe", "tambon")
#: the admin levels below the country (a code of each starts with its province code)
SUB_NATIONAL_LEVELS: tuple[str, ...] = ("province", "amphoe", "tambon", "village")

#: level -> the level one step finer (children of an area)
CHILD_LEVEL: dict[str, str] = {
    "country": "province", "province": "amphoe", "amphoe": "tambon", "tambon": "village",
    "h3_r6": "h3_r7", "h3_r7": "h3_r8", "h3_r8": "h3_r9",
}
#: level -> the level one step coarser (a suppressed parent protects its children)
PARENT_LEVEL: dict[str, str] = {child: parent for parent, child in CHILD_LEVEL.items()}

#: labels of each level, for map titles, selectors and layer names
LEVEL_LABELS: dict[str, Label] = {
    "country": Label("ประเทศ", "country"),
    "province": Label("จังหวัด", "provinces"),
    "amphoe": Label("อำเภอ", "districts (amphoe)"),
    "tambon": Label("ตำบล", "sub-districts (tambon)"),
    "village": Label("หมู่บ้าน", "villages"),
    "h3_r6": Label("หกเหลี่ยม H3 r6 (~36 ตร.กม.)", "H3 hexagons r6 (~36 km²)"),
    "h3_r7": Label("หกเหลี่ยม H3 r7 (~5 ตร.กม.)", "H3 hexagons r7 (~5 km²)"),
    "h3_r8": Label("หกเหลี่ยม H3 r8 (~0.7 ตร.กม.)", "H3 hexagons r8 (~0.7 km²)"),
    "h3_r9": Label("หกเหลี่ยม H3 r9 (~0.1 ตร.กม.)", "H3 hexagons r9 (~0.1 km²)"),
}

#: length of an admin code of each level: TH + 2 digits per step (village TH + 8 digits)
CODE_LENGTH: dict[str, int] = {"country": 2, "province": 4, "amphoe": 6, "tambon": 8,
                               "village": 10}

#: level -> pattern of its area codes (admin codes TH50..., H3 cells 15 hex digits)
CODE_PATTERNS: dict[str, re.Pattern[str]] = {
    "country": re.compile(r"TH"),
    "province": re.compile(r"TH[0-9]{2}"),
    "amphoe": re.compile(r"TH[0-9]{4}"),
    "tambon": re.compile(r"TH[0-9]{6}"),
    "village": re.compile(r"TH[0-9]{8}"),
    **{lv: re.compile(r"[0-9a-f]{15}") for lv in H3_LEVELS},
}
#: any sub-national admin code (province, amphoe, tambon or village)
ADMIN_CODE: re.Pattern[str] = re.compile(r"TH[0-9]{2}(?:[0-9]{2}(?:[0-9]{2}(?:[0-9]{2})?)?)?")
#: the same patterns as regular-expression text for polars/SQL/OpenAPI (anchored)
CODE_REGEX: dict[str, str] = {lv: f"^{p.pattern}$" for lv, p in CODE_PATTERNS.items()}


def level_of(code: str) -> str | None:
    """The admin level of a code (TH -> country ... TH50010101 -> village), ``h3_rN`` for a
    valid H3 cell, None for anything else."""
    if not isinstance(code, str):
        return None
    for level in ADMIN_LEVELS:
        if CODE_PATTERNS[level].fullmatch(code):
            return level
    if CODE_PATTERNS["h3_r9"].fullmatch(code):
        import h3

        if h3.is_valid_cell(code):
            level = f"h3_r{h3.get_resolution(code)}"
            return level if level in H3_LEVELS else None
    return None


def is_code(level: str, code: object) -> bool:
    """True when ``code`` is a well-formed code of ``level`` (H3: a valid cell of that
    resolution)."""
    pattern = CODE_PATTERNS.get(level)
    if pattern is None or not isinstance(code, str) or not pattern.fullmatch(code):
        return False
    if level in H3_LEVELS:
        return level_of(code) == level
    return True


def check_level(level: str, *, column: str = "level",
                allowed: tuple[str, ...] = LEVELS) -> str:
    """``level`` when it is one of ``allowed``, else :class:`InvalidInput` (422)."""
    if level not in allowed:
        raise InvalidInput(f"no level {level!r}; levels are {', '.join(allowed)} "
                           f"/ ไม่มีระดับพื้นที่ {level!r}", column=column)
    return level


def check_code(level: str, code: str, *, column: str = "code") -> str:
    """``code`` when it is a code of ``level``, else :class:`InvalidInput` (422)."""
    if not is_code(level, code):
        raise InvalidInput(f"{code!r} is not a {level} code / {code!r} ไม่ใช่รหัสระดับ {level}",
                           column=column)
    return code


def province_of(code: str | None) -> str | None:
    """The province (TH50) an admin code lies in; None for the country, H3 cells, junk."""
    if not isinstance(code, str) or not ADMIN_CODE.fullmatch(code):
        return None
    return code[:4]


# -- datasets --------------------------------------------------------------------------------
#: dataset names: lower-case letters, digits, - and _, at most 64 characters
DATASET_NAME: re.Pattern[str] = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
#: version ids (catalog-made or given by an operator)
VERSION_ID: re.Pattern[str] = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
#: the same as anchored regular-expression text (OpenAPI, JSON schema)
DATASET_REGEX = f"^{DATASET_NAME.pattern}$"
VERSION_REGEX = f"^{VERSION_ID.pattern}$"


def check_dataset_name(name: str, *, column: str = "dataset") -> str:
    """``name`` when it is a valid dataset name, else :class:`InvalidInput` (422)."""
    if not isinstance(name, str) or not DATASET_NAME.fullmatch(name):
        raise InvalidInput(f"dataset name {name!r} is not valid: lower-case letters, digits, "
                           f"- or _ / ชื่อชุดข้อมูลไม่ถูกต้อง", column=column)
    return name


# -- people ------------------------------------------------------------------------------------
#: target groups (columns grp_<id>, n_<id>, n_poor_<id>, h_<id>, m0_<id>): short labels
GROUPS: dict[str, Label] = {
    "child": Label("เด็ก", "Children"),
    "woman": Label("ผู้หญิง", "Women"),
    "elderly": Label("ผู้สูงอายุ", "Elderly"),
    "disabled": Label("ผู้พิการ", "Disabled"),
    "chronic": Label("ผู้ป่วยเรื้อรัง", "Chronically ill"),
}
#: the same groups with their definition (reports and the MPI summary)
GROUP_DEFINITIONS: dict[str, Label] = {
    "child": Label("เด็ก (อายุต่ำกว่า 18 ปี)", "Children (under 18)"),
    "woman": Label("สตรี (อายุ 18 ปีขึ้นไป)", "Women (18 and over)"),
    "elderly": Label("ผู้สูงอายุ (60 ปีขึ้นไป)", "Elderly (60 and over)"),
    "disabled": Label("คนพิการ", "Persons with disabilities"),
    "chronic": Label("ผู้ป่วยเรื้อรัง", "Chronically ill"),
}

#: welfare programmes (columns n_elig_<id>, n_cov_<id>, n_excl_<id>, cov_<id>)
PROGRAMMES: dict[str, Label] = {
    "welfare_card": Label("บัตรสวัสดิการแห่งรัฐ", "State welfare card"),
    "elderly_allowance": Label("เบี้ยยังชีพผู้สูงอายุ", "Elderly allowance"),
    "disability_allowance": Label("เบี้ยความพิการ", "Disability allowance"),
    "child_grant": Label("เงินอุดหนุนเด็กแรกเกิด", "Child support grant"),
    "social_security": Label("ประกันสังคม", "Social security"),
}

#: the five TPMAP (BMN) dimensions
DIMENSIONS: dict[str, Label] = {
    "health": Label("สุขภาพ", "Health"),
    "living": Label("ความเป็นอยู่", "Living conditions"),
    "education": Label("การศึกษา", "Education"),
    "income": Label("รายได้", "Income"),
    "accessibility": Label("การเข้าถึงบริการรัฐ", "Access to public services"),
}
#: the 17 BMN indicators of each dimension (columns ind<N>)
DIMENSION_INDICATORS: dict[str, tuple[str, ...]] = {
    "health": ("ind1", "ind4", "ind5", "ind7"),
    "living": ("ind8", "ind9", "ind10", "ind11"),
    "education": ("ind15", "ind16", "ind17", "ind19"),
    "income": ("ind20", "ind21", "ind22"),
    "accessibility": ("ind27", "ind28"),
}
#: 5-bit dimension masks of TPMAP's published tables ("10000" = health only, "11111" = all
#: five), in the order maps list them: all, single dimensions, pairs, triples, fours
DIMENSION_MASKS: dict[str, Label] = {
    mask: (Label("ทุกมิติ", "all dimensions") if mask == "11111" else Label(
        " + ".join(lab.th for (d, lab), bit in zip(DIMENSIONS.items(), mask, strict=True)
                   if bit == "1"),
        " + ".join(lab.en.lower() for (d, lab), bit in zip(DIMENSIONS.items(), mask,
                                                            strict=True) if bit == "1")))
    for mask in sorted((format(m, "05b") for m in range(1, 32)),
                       key=lambda b: (b != "11111", b.count("1"), -int(b, 2)))
}
#: indicator -> short label (the full criterion is in the indicator specification)
INDICATORS: dict[str, Label] = {
    "ind1": Label("น้ำหนักแรกเกิดไม่น้อยกว่า 2,500 กรัม", "Newborn weight at least 2,500 g"),
    "ind4": Label("กินอาหารถูกสุขลักษณะ ปลอดภัย", "Safe, hygienic food"),
    "ind5": Label("ใช้ยาเพื่อบำบัดบรรเทาอาการเบื้องต้นอย่างเหมาะสม",
                  "Appropriate use of medicine"),
    "ind7": Label("ออกกำลังกายอย่างน้อยสัปดาห์ละ 3 วัน", "Exercise at least 3 days a week"),
    "ind8": Label("บ้านมีความมั่นคง แข็งแรง", "Secure, durable housing"),
    "ind9": Label("น้ำสะอาดสำหรับดื่มเพียงพอ 5 ลิตร/คน/วัน",
                  "Drinking water at least 5 L/person/day"),
    "ind10": Label("น้ำใช้เพียงพอ 45 ลิตร/คน/วัน", "Household water at least 45 L/person/day"),
    "ind11": Label("บ้านสะอาด ถูกสุขลักษณะ", "Tidy, hygienic home"),
    "ind15": Label("เด็กอายุ 3-5 ปีได้รับบริการเตรียมความพร้อมก่อนวัยเรียน",
                   "Children 3-5 in pre-school"),
    "ind16": Label("เด็กอายุ 6-14 ปีได้รับการศึกษาภาคบังคับ",
                   "Children 6-14 in compulsory school"),
    "ind17": Label("เด็กจบ ม.3 ได้เรียนต่อ", "Lower-secondary graduates continue"),
    "ind19": Label("คนอายุ 15-59 ปีอ่านออกเขียนได้ คิดเลขเป็น",
                   "Age 15-59 literate and numerate"),
    "ind20": Label("คนอายุ 15-59 ปีมีอาชีพและรายได้", "Age 15-59 has occupation and income"),
    "ind21": Label("คนอายุ 60 ปีขึ้นไปมีอาชีพและรายได้", "Age 60+ has occupation and income"),
    "ind22": Label("รายได้เฉลี่ยไม่น้อยกว่า 38,000 บาท/คน/ปี",
                   "Income at least 38,000 THB/person/year"),
    "ind27": Label("ผู้สูงอายุได้รับการดูแล", "Elderly cared for"),
    "ind28": Label("ผู้พิการได้รับการดูแล", "Disabled cared for"),
}
#: indicator numbers (ind<N>) in order
INDICATOR_NUMBERS: tuple[int, ...] = tuple(int(i[3:]) for i in INDICATORS)

# -- users ---------------------------------------------------------------------------------------
ROLES: dict[str, Label] = {
    "national": Label("ระดับประเทศ", "national"),
    "provincial": Label("ระดับจังหวัด", "provincial"),
    "public": Label("สาธารณะ", "public"),
}
