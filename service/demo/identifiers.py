"""Synthetic personal identifiers for pseudonymisation tests (``--with-identifiers``).

The 13-digit numbers follow the format and check digit of Thai national ID numbers but are
random; the names are common Thai given names and surnames combined at random. None of this
identifies anybody; it exists so ingest can prove it never stores or logs such columns.
"""

from __future__ import annotations

import numpy as np

FIRST_NAMES_M = (
    "สมชาย", "สมศักดิ์", "ประเสริฐ", "สุรชัย", "วิชัย", "สมบัติ", "ประยุทธ", "อนุชา", "ธนากร",
    "กิตติพงษ์", "ณัฐพล", "ศุภชัย", "วีระพงษ์", "บุญมี", "สมหมาย", "ชัยวัฒน์", "เกียรติศักดิ์",
    "ธีรพงษ์", "พงศกร", "อภิชาติ",
)
FIRST_NAMES_F = (
    "สมศรี", "มาลี", "สุนิสา", "วันเพ็ญ", "กาญจนา", "ศิริพร", "สุภาพร", "จันทร์เพ็ญ", "นงลักษณ์",
    "รัตนา", "ปราณี", "บุญเรือน", "อรุณี", "พรทิพย์", "ณัฐธิดา", "กมลชนก", "สุดารัตน์",
    "ปิยะนุช", "ละเอียด", "ทองใบ",
)
LAST_NAMES = (
    "ใจดี", "สุขสวัสดิ์", "แก้วมณี", "ศรีสุข", "บุญมา", "ทองดี", "จันทร์แก้ว", "พรหมมา",
    "สายทอง", "วงศ์ใหญ่", "มีสุข", "แสงทอง", "ชัยมงคล", "รักษาศรี", "ปัญญาดี", "อินทร์แก้ว",
    "ศรีวงศ์", "คำแก้ว", "พันธ์ดี", "สมบูรณ์", "เพชรรัตน์", "บุญเรือง", "ทองคำ", "นาคสุข",
)


def check_digit(first12: np.ndarray) -> np.ndarray:
    """Check digit of Thai ID numbers: (11 - sum(d_i * (13 - i)) mod 11) mod 10, i = 0..11."""
    weights = np.arange(13, 1, -1)
    return (11 - (first12 * weights).sum(axis=1) % 11) % 10


def is_valid_national_id(value: str) -> bool:
    if len(value) != 13 or not value.isdigit():
        return False
    digits = np.array([[int(c) for c in value]])
    return int(check_digit(digits[:, :12])[0]) == digits[0, 12]


def synthetic_identities(rng: np.random.Generator, age: np.ndarray,
                         sex: np.ndarray) -> dict[str, np.ndarray]:
    """national_id (13 digits, valid check digit), first_name, last_name for each person."""
    n = len(age)
    digits = rng.integers(0, 10, size=(n, 13))
    # first digit: 1 = Thai born after 1984 and registered at birth, 3 = registered before
    digits[:, 0] = np.where(age < 34, 1, 3)
    digits[:, 12] = check_digit(digits[:, :12])
    ids = digits.astype(np.uint8) + ord("0")
    national_id = ids.view("S13").ravel().astype(str)
    first = np.where(sex == "F", np.array(FIRST_NAMES_F)[rng.integers(0, len(FIRST_NAMES_F), n)],
                     np.array(FIRST_NAMES_M)[rng.integers(0, len(FIRST_NAMES_M), n)])
    last = np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)]
    return {"national_id": national_id, "first_name": first, "last_name": last}
