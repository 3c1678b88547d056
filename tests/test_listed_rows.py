"""THE "published cells only" rule (service.access.views.listed_rows), applied in one place
for the API listings, cell pages and exports."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from service.access.views import listed_rows

SERVICE = Path(__file__).resolve().parent.parent / "service"


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"code": ["a", "b", "c"], "suppressed": [False, True, None]})


def test_h3_listings_leave_suppressed_cells_out():
    for level in ("h3_r6", "h3_r7", "h3_r8", "h3_r9"):
        assert list(listed_rows(_frame(), level)["code"]) == ["a", "c"], level


def test_admin_listings_keep_suppressed_rows_named():
    for level in ("province", "amphoe", "tambon", "village"):
        assert list(listed_rows(_frame(), level)["code"]) == ["a", "b", "c"], level
    detail = pd.DataFrame({"code": ["a"]})  # a detail view without the column
    assert listed_rows(detail, "h3_r8") is detail


def test_the_use_cases_do_not_filter_suppressed_cells_themselves():
    """areas.py and exports.py once each held their own copy of the rule."""
    own_copy = re.compile(r"\[~\s*\w+\[\"suppressed\"\]")
    for name in ("areas.py", "exports.py"):
        text = (SERVICE / "usecases" / name).read_text(encoding="utf-8")
        assert "listed_rows" in text and not own_copy.search(text), name
