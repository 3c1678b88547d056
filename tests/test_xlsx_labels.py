"""Column headers of the workbooks (service.export.xlsx.describe): families of columns are
named from service.vocabulary through one factory, so a programme, group or dimension is
named the same in a workbook as everywhere else."""

from __future__ import annotations

import pytest

from service import vocabulary
from service.export.xlsx import describe


@pytest.mark.parametrize(("code", "th", "en", "fmt"), [
    ("n_excl_welfare_card", "ตกหล่นบัตรสวัสดิการแห่งรัฐ", "Excluded: state welfare card", "count"),
    ("n_elig_child_grant", "มีสิทธิเงินอุดหนุนเด็กแรกเกิด", "Eligible: child support grant",
     "count"),
    ("n_cov_social_security", "ได้รับประกันสังคม", "Covered: social security", "count"),
    ("cov_elderly_allowance", "ความครอบคลุมเบี้ยยังชีพผู้สูงอายุ", "Coverage: elderly allowance",
     "percent"),
    ("h_child", "สัดส่วนคนจน: เด็ก", "Headcount H: children", "percent"),
    ("m0_chronic", "M0: ผู้ป่วยเรื้อรัง", "M0: chronically ill", "ratio"),
    ("n_target_poor_health", "คนจนเป้าหมายที่ขาดด้านสุขภาพ", "Target poor deprived in health",
     "count"),
    ("n_dep_ind7", "คนที่ไม่ผ่าน ind7", "People failing ind7", "count"),
    ("n_cdep_ind12", "คนจนที่ไม่ผ่าน ind12", "Poor people failing ind12", "count"),
    ("n_hh_cdep_ind3", "ครัวเรือนจนที่ไม่ผ่าน ind3", "Poor households failing ind3", "count"),
    ("n_excl_martians", "ตกหล่นmartians", "Excluded: martians", "count"),  # unknown id: itself
    ("n_whatever", "n_whatever", "n_whatever", "count"),
    ("weird", "weird", "weird", "text"),
])
def test_column_families_are_named(code, th, en, fmt):
    col = describe(code)
    assert (col.th, col.en, col.fmt) == (th, en, fmt)


def test_group_names_come_from_the_vocabulary():
    for group, label in vocabulary.GROUPS.items():
        assert describe(f"h_{group}").th == f"สัดส่วนคนจน: {label.th}"
