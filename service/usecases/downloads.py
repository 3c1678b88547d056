"""Files for people: the target lists, the budget selection, the KPI table and the household
visit sheet as XLSX (Thai headers, definitions, an About sheet: service.export.xlsx) or CSV
(UTF-8 with BOM). Plain values in (the page use cases' results), a :class:`Download` out; the
routes in service.api.pages only parse, authorise, audit and send it
(service.api.responses.download)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from service.errors import NotFound

CSV_MEDIA = "text/csv; charset=utf-8"
FORMATS = ("xlsx", "csv")

#: list kind -> (Thai title, English file-name part)
LIST_TITLES = {"villages": ("หมู่บ้านเป้าหมาย", "villages"),
               "households": ("ครัวเรือนเป้าหมาย", "households"),
               "excluded": ("ผู้ตกหล่น", "excluded")}


@dataclass(frozen=True)
class Download:
    """A file to send: its bytes, media type and (ASCII, Unicode) names."""

    body: bytes
    media: str
    ascii_name: str
    filename: str
    no_store: bool = False


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise NotFound("export as xlsx or csv / ส่งออกได้เป็น xlsx หรือ csv")
    return fmt


def who(principal: Any, *, public_name: bool = True) -> str:
    """The exporting user as the About sheet names them: ``name (role, province)``."""
    name = (principal.username or "สาธารณะ · public") if public_name else principal.username
    return f"{name} ({principal.role}{', ' + principal.province if principal.province else ''})"


def _file(frame: pd.DataFrame, fmt: str, sheets: Any, meta: Any, name_parts: list,
          ) -> Download:
    from service.export import make_filename
    from service.export.formats import to_csv
    from service.export.xlsx import MEDIA_TYPE, workbook

    if fmt == "csv":
        body, media = to_csv(frame), CSV_MEDIA
    else:
        body, media = workbook(sheets(), metadata=meta()), MEDIA_TYPE
    ascii_name, uni = make_filename(name_parts, fmt)
    return Download(body, media, ascii_name, uni)


def list_download(src: Any, info: dict[str, Any], kind: str, fmt: str, *,
                  filters: str) -> Download:
    """A target list (``service.usecases.exclusion.target_list``) as a file."""
    from service.export.xlsx import Sheet, export_metadata

    frame, v = info["frame"], info["version"]
    th, en = LIST_TITLES[kind]
    if kind == "excluded":
        th = f"ตกหล่น{info['programme_info']['th']}"

    def meta():
        return export_metadata(
            dataset=src.dataset, round=int(v.round), version=v.id, k=float(info["spec"].k),
            who=who(src.principal), view=info["view"], min_households=src.min_households,
            area=f"{info['name_th']} {info['name_en']} ({info['area']})", filters=filters,
            rows=len(frame))

    def sheets():
        note = ""
        if kind == "excluded":
            pi = info["programme_info"]
            note = (f"เกณฑ์ผู้มีสิทธิ: {pi['rule_th']} · Eligibility: {pi['rule_en']}. "
                    f"{pi['limit_th']} {pi['limit_en']}").strip()
        return [Sheet(th[:31], frame, note=note)]

    return _file(frame, fmt, sheets, meta, ["chipao", src.dataset, v.round, th,
                                            info["name_th"], info["area"], en])


def comparison_frame(rows: list, columns: list[str] | None = None) -> pd.DataFrame:
    cols = columns or ["method_th", "method_en", "n_selected", "total_cost_thb",
                       "people_lifted"]
    return pd.DataFrame(rows, columns=cols)


def selection_download(src: Any, r: dict[str, Any], fmt: str) -> Download:
    """The selected villages (``service.usecases.budget_page.selection_page``) with the
    costs, totals and the comparison of methods."""
    from service.export.xlsx import Col, Sheet, export_metadata

    v, frame = r["version"], r["selected"]

    def meta():
        return export_metadata(
            dataset=src.dataset, round=int(v.round), version=v.id, k=None,
            who=who(src.principal, public_name=False), view="detail",
            min_households=src.min_households, area=r["province"],
            filters=f"budget={r['budget']:,.0f} THB, objective={r['objective']}, "
                    f"per_amphoe={r['per_amphoe']}", rows=len(frame))

    def sheets():
        s, top, greedy = r["summary"], r["top"], r["greedy"] or {}
        comparison = comparison_frame([
            ("เลือกด้วยวิธีที่ดีที่สุด (MILP)", "Optimal selection (MILP)", s["n_selected"],
             s["total_cost_thb"], s["people_lifted"]),
            ("วิธีเลือกคุ้มค่าก่อน (greedy)", "Greedy (benefit per baht)",
             greedy.get("n_selected"), greedy.get("total_cost_thb"), greedy.get("people_lifted")),
            ("เลือกตามลำดับความสำคัญ", "Top of the priority ranking", top["n_selected"],
             top["total_cost_thb"], top["people_lifted"])])
        costs = comparison_frame(list(r["costs"].items()), ["indicator", "cost_thb"])
        return [
            Sheet("หมู่บ้านที่เลือก", frame),
            Sheet("เปรียบเทียบ", comparison, [
                Col("method_th", "วิธี", "Method (Thai)"),
                Col("method_en", "วิธี (อังกฤษ)", "Method"),
                Col("n_selected", "จำนวนหมู่บ้าน", "Villages", "count"),
                Col("total_cost_thb", "ค่าใช้จ่ายรวม (บาท)", "Total cost (THB)", "baht"),
                Col("people_lifted", *(("คนจนเป้าหมายที่เข้าถึง", "Target poor reached")
                                       if r.get("published") else  # published tables (TPMAP)
                                       ("คนที่พ้นความยากจน", "People lifted")), "count")]),
            Sheet("ราคาต่อครัวเรือน", costs, [
                Col("indicator", "ตัวชี้วัด", "Indicator"),
                Col("cost_thb", "บาทต่อครัวเรือน", "THB per household", "baht")])]

    return _file(frame, fmt, sheets, meta, ["chipao", src.dataset, v.round, "เลือกหมู่บ้าน",
                                            r["province"], f"{r['budget']:.0f}THB"])


def kpi_download(src: Any, d: dict[str, Any], fmt: str) -> Download:
    """The KPI table (``service.usecases.kpi_dashboard.kpi_dashboard``) as a file."""
    from service.export.xlsx import Sheet, export_metadata
    from service.usecases.kpi_dashboard import EXPORT_COLUMNS

    frame = d["table"][[c for c in EXPORT_COLUMNS if c in d["table"]]]
    v = d["version"]

    def meta():
        return export_metadata(
            dataset=src.dataset, round=int(v.round), version=v.id, k=None,
            who=who(src.principal),
            view="detail" if d["province"] and src.can_see(d["province"]) else "public",
            min_households=src.min_households, area=d["province"] or "TH",
            filters=f"baseline_round={d['baseline_round']}, rounds="
                    f"{', '.join(map(str, d['rounds']))}", rows=len(frame))

    return _file(frame, fmt, lambda: [Sheet("ตัวชี้วัด KPI", frame)], meta,
                 ["chipao", src.dataset, "ตัวชี้วัดแผนแม่บท", d["province"] or "TH", "kpi"])


VISIT_SUFFIXES = (".csv", ".xlsx", ".parquet", ".txt")


def visit_sheet_download(src: Any, info: dict[str, Any], settings: Any,
                         uploads: list[Any]) -> tuple[Download, int, int]:
    """The household list ``info`` with names re-identified from the province's source
    files (``uploads``: objects with ``filename`` and ``save(path)``, saved in a private
    temporary directory removed at once). Returns the file, rows and households found."""
    import tempfile

    from service.errors import InvalidInput
    from service.export import make_filename
    from service.export.xlsx import MEDIA_TYPE, Sheet, export_metadata, workbook
    from service.usecases.exclusion import visit_sheet

    with tempfile.TemporaryDirectory(prefix="chipao-visit-") as tmp:
        paths = []
        for i, f in enumerate(uploads):
            suffix = Path(f.filename or "").suffix.lower()
            if suffix not in VISIT_SUFFIXES:
                raise InvalidInput("the source file must be CSV, XLSX or Parquet "
                                   "/ ไฟล์ต้องเป็น CSV, XLSX หรือ Parquet", column="source")
            path = Path(tmp) / f"source-{i}{suffix}"
            f.save(path)
            paths.append(path)
        sheet, n_found = visit_sheet(info["frame"], settings, paths)
    v, area = info["version"], info["area"]
    meta = export_metadata(
        dataset=src.dataset, round=int(v.round), version=v.id, k=float(info["spec"].k),
        who=who(src.principal, public_name=False), view="detail",
        min_households=src.min_households, area=f"{info['name_th']} ({area})", rows=len(sheet),
        filters=f"re-identified {n_found} of {len(sheet)} households from the uploaded file")
    body = workbook([Sheet("ใบลงเยี่ยมบ้าน", sheet,
                           note="ข้อมูลส่วนบุคคล ใช้เพื่อการลงเยี่ยมบ้านเท่านั้น · personal data, "
                                "for home visits only")], metadata=meta)
    ascii_name, uni = make_filename(["chipao", "ใบลงเยี่ยมบ้าน", info["name_th"], area,
                                     "visit-sheet"], "xlsx")
    return Download(body, MEDIA_TYPE, ascii_name, uni, no_store=True), len(sheet), n_found
