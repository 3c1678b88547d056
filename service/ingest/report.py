"""What an import did, as one shared base: status, counts, problems (file, row, column,
reason in Thai and English; never personal data) and timing. Survey files
(:class:`service.ingest.run.IngestReport`) and agency assistance files
(:class:`service.followup.imports.AssistImport`) extend it with their own counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


def counted(counts: Counter, reasons: Mapping[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """``(column, code) -> n`` as report rows with the reason in Thai and English."""
    return [{"column": col, "code": code, "count": n,
             "reason_th": reasons[code][0], "reason_en": reasons[code][1]}
            for (col, code), n in sorted(counts.items())]


@dataclass
class ImportReport:
    """The part every import report shares (fields are keyword-only, so a report's own
    positional fields come first: ``IngestReport(dataset, round, policy)``)."""

    status: str = field(default="pending", kw_only=True)      # created | existing | rejected
    n_records: int = field(default=0, kw_only=True)
    n_accepted: int = field(default=0, kw_only=True)
    problem_counts: Counter = field(default_factory=Counter, kw_only=True)  # (col, code) -> n
    problems: list[dict[str, Any]] = field(default_factory=list, kw_only=True)
    seconds: float = field(default=0.0, kw_only=True)

    #: problem code -> (Thai, English) reason
    REASONS: ClassVar[Mapping[str, tuple[str, str]]] = {}
    #: problem codes that refuse the whole import as forbidden
    FATAL_CODES: ClassVar[frozenset[str]] = frozenset({"wrong_province"})
    #: status -> the summary's first line (Thai / English)
    HEADINGS: ClassVar[Mapping[str, str]] = {}

    @property
    def forbidden(self) -> bool:
        """Rows outside the uploader's province were found (the import answers 403)."""
        return any(code in self.FATAL_CODES for _col, code in self.problem_counts)

    @property
    def n_problems(self) -> int:
        return sum(self.problem_counts.values())

    def problem_rows(self) -> list[dict[str, Any]]:
        """``problem_counts`` as report rows (column, code, count, reasons)."""
        return counted(self.problem_counts, self.REASONS)

    def heading(self) -> str:
        return self.HEADINGS.get(self.status, self.status)

    def counts_line(self, *middle: str) -> str:
        """``  แถว/records … · รับ/accepted … · <middle> · ปัญหา/problems …``"""
        parts = [f"แถว/records {self.n_records:,}", f"รับ/accepted {self.n_accepted:,}",
                 *middle, f"ปัญหา/problems {self.n_problems:,}"]
        return "  " + " · ".join(parts)
