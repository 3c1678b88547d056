"""OpenAPI 3.1 document of /api/v1 (hand-written) and a browsable, offline docs page.

Other blueprint modules add their operations by exposing ``OPENAPI_PATHS`` (a dict of
OpenAPI path items, paths written with ``{name}`` placeholders); they are merged in here and
get the common error responses. ``/api/v1/docs`` renders the document as plain HTML, with no
script and no CDN.
"""

from __future__ import annotations

import copy
import importlib
from typing import Any

from flask import Blueprint, jsonify, render_template_string

from service import __version__
from service.export import EXPORTERS
from service.vocabulary import CODE_REGEX, DATASET_REGEX, LEVELS, VERSION_REGEX

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

ERROR_CODES = {
    "400": "Bad request / คำขอไม่ถูกต้อง",
    "401": "Authentication required / ต้องเข้าสู่ระบบ",
    "403": "Forbidden for this role or province / ไม่มีสิทธิ์",
    "404": "Not found / ไม่พบ",
    "413": "Body too large / ข้อมูลใหญ่เกินไป",
    "422": "Invalid parameter / พารามิเตอร์ไม่ถูกต้อง",
    "429": "Too many requests / เรียกถี่เกินไป",
}

SCALAR = {"type": ["number", "string", "boolean", "null"]}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _q(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}


def _p(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema,
            "description": description}


DATASET = _q("dataset", {"type": "string", "pattern": DATASET_REGEX},
             "Dataset name (default: the server's default dataset) / ชื่อชุดข้อมูล")
VERSION = _q("version", {"type": "string", "pattern": VERSION_REGEX},
             "Version id (default: current) / รุ่นข้อมูล")
PROVINCE = _q("province", {"type": "string", "pattern": CODE_REGEX["province"]},
              "Only areas of this province, e.g. TH50 / เฉพาะจังหวัด")
DATASET_PATH = _p("dataset", {"type": "string", "pattern": DATASET_REGEX},
                  "Dataset name / ชื่อชุดข้อมูล")
LIMIT = _q("limit", {"type": "integer", "minimum": 1, "maximum": 5000, "default": 1000},
           "Page size / จำนวนต่อหน้า")
OFFSET = _q("offset", {"type": "integer", "minimum": 0, "maximum": 10_000_000, "default": 0},
            "Rows to skip / ข้ามกี่แถว")
LEVEL = _p("level", {"type": "string", "enum": list(LEVELS)}, "Area level / ระดับพื้นที่")
ADMIN_LEVEL = _p("level", {"type": "string", "enum": ["province", "amphoe", "tambon",
                                                      "village"]},
                 "Admin level / ระดับการปกครอง")
CODE = _p("code", {"type": "string", "maxLength": 32},
          "Area code: TH, TH50, TH5001, TH500101, TH50010103 or an H3 cell id")
FMT = _p("fmt", {"type": "string", "enum": list(EXPORTERS)}, "File format / รูปแบบไฟล์")
HOUSEHOLD_FMT = _p("fmt", {"type": "string", "enum": ["csv", "xlsx"]},
                  "File format (no geometry: home locations stay private) / รูปแบบไฟล์")
AREA_CODE = _p("area", {"type": "string", "maxLength": 32},
               "Province, amphoe or tambon code (households: village too)")

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object", "required": ["type", "title", "status", "detail"],
        "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                       "status": {"type": "integer"}, "detail": {"type": "string"}},
    },
    "Area": {
        "type": "object",
        "required": ["level", "code", "parent_code", "name_th", "name_en", "province_code",
                     "view"],
        "properties": {
            "level": {"type": "string"}, "code": {"type": "string"},
            "parent_code": {"type": ["string", "null"]},
            "name_th": {"type": ["string", "null"]}, "name_en": {"type": ["string", "null"]},
            "province_code": {"type": ["string", "null"]},
            "view": {"type": "string", "enum": ["detail", "public"],
                     "description": "detail = unsuppressed; public = disclosure-controlled"},
            "n_households": {"type": ["integer", "null"], "minimum": 0},
            "n_persons": {"type": ["integer", "null"], "minimum": 0},
            "h": {"type": ["number", "null"]}, "m0": {"type": ["number", "null"]},
        },
        "additionalProperties": SCALAR,
    },
    "AreaList": {
        "type": "object",
        "required": ["dataset", "version", "level", "total", "limit", "offset", "items"],
        "properties": {
            "dataset": {"type": "string"}, "version": {"type": "string"},
            "round": {"type": "integer"}, "level": {"type": "string"},
            "total": {"type": "integer", "minimum": 0}, "limit": {"type": "integer"},
            "offset": {"type": "integer"}, "items": {"type": "array", "items": _ref("Area")},
        },
    },
    "AreaDetail": {
        "type": "object",
        "required": ["dataset", "version", "level", "area", "children_level", "children"],
        "properties": {
            "dataset": {"type": "string"}, "version": {"type": "string"},
            "round": {"type": "integer"}, "level": {"type": "string"},
            "area": _ref("Area"), "children_level": {"type": ["string", "null"]},
            "children": {"type": "array", "items": _ref("Area")},
        },
    },
    "CellList": {
        "type": "object", "required": ["dataset", "version", "resolution", "total", "items"],
        "properties": {
            "dataset": {"type": "string"}, "version": {"type": "string"},
            "resolution": {"type": "integer", "minimum": 6, "maximum": 9},
            "total": {"type": "integer"}, "limit": {"type": "integer"},
            "offset": {"type": "integer"}, "items": {"type": "array", "items": _ref("Area")},
        },
    },
    "CellDetail": {
        "type": "object", "required": ["dataset", "version", "resolution", "cell", "children"],
        "properties": {
            "dataset": {"type": "string"}, "version": {"type": "string"},
            "resolution": {"type": "integer"}, "parent": {"type": ["string", "null"]},
            "cell": _ref("Area"), "children": {"type": "array", "items": _ref("Area")},
        },
    },
    "Version": {
        "type": "object", "required": ["id", "dataset", "round"],
        "properties": {"id": {"type": "string"}, "dataset": {"type": "string"},
                       "round": {"type": "integer"}, "status": {"type": "string"},
                       "current": {"type": "boolean"},
                       "n_persons": {"type": ["integer", "null"]},
                       "n_households": {"type": ["integer", "null"]}},
    },
    "Coverage": {
        "type": "object", "required": ["dataset", "version", "level", "code", "programmes"],
        "properties": {
            "dataset": {"type": "string"}, "version": {"type": "string"},
            "level": {"type": "string"}, "code": {"type": "string"},
            "name_th": {"type": ["string", "null"]}, "name_en": {"type": ["string", "null"]},
            "view": {"type": ["string", "null"]},
            "programmes": {"type": "array", "items": {
                "type": "object", "required": ["programme"],
                "properties": {
                    "programme": {"type": "string"},
                    "n_eligible": {"type": ["integer", "null"]},
                    "n_covered": {"type": ["integer", "null"]},
                    "n_excluded": {"type": ["integer", "null"]},
                    "n_inclusion_error": {"type": ["integer", "null"]},
                    "coverage": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                }}},
        },
    },
    "Kpi": {
        "type": "object", "required": ["dataset", "level", "code", "series", "change", "kpis"],
        "properties": {
            "dataset": {"type": "string"}, "level": {"type": "string"},
            "code": {"type": "string"},
            "series": {"type": "array", "items": {
                "type": "object", "required": ["version", "round"],
                "properties": {"version": {"type": "string"}, "round": {"type": "integer"}},
                "additionalProperties": SCALAR}},
            "change": {"type": "object", "additionalProperties": {"type": ["number", "null"]}},
            "kpis": {"type": "array", "items": {
                "type": "object", "required": ["kpi", "round", "status"],
                "properties": {"kpi": {"type": "string"}, "round": {"type": "integer"},
                               "status": {"type": "string"},
                               "value": {"type": ["number", "null"]}},
                "additionalProperties": SCALAR}},
        },
    },
    "HouseholdList": {
        "type": "object", "required": ["dataset", "version", "code", "total", "items"],
        "properties": {
            "dataset": {"type": "string"}, "version": {"type": "string"},
            "level": {"type": "string"}, "code": {"type": "string"},
            "total": {"type": "integer"}, "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "items": {"type": "array", "items": {
                "type": "object", "required": ["hh_id", "n_members"],
                "properties": {"hh_id": {"type": "string"},
                               "n_members": {"type": "integer", "minimum": 1}},
                "additionalProperties": SCALAR}},
        },
    },
}

FILE_RESPONSE = {
    "description": "The file; its name is set by the server (Content-Disposition)",
    "content": {e.media_type.split(";")[0]: {"schema": (
        {"type": "object", "required": ["type", "features"],
         "properties": {"type": {"const": "FeatureCollection"},
                        "features": {"type": "array"}}}
        if e.name == "geojson" else {"type": "string", "format": "binary"})}
        for e in EXPORTERS.values()},
}

AREA_PARAMS = [DATASET, VERSION]

CORE_PATHS: dict[str, Any] = {
    "/api/v1/me": {"get": {
        "summary": "Who am I (role, province) / บทบาทของฉัน", "tags": ["access"],
        "responses": {"200": _json({
            "type": "object", "required": ["role", "province", "username"],
            "properties": {"role": {"type": "string",
                                    "enum": ["national", "provincial", "public"]},
                           "province": {"type": ["string", "null"]},
                           "username": {"type": ["string", "null"]}}})}}},
    "/api/v1/datasets": {"get": {
        "summary": "Datasets and their current version / ชุดข้อมูล", "tags": ["datasets"],
        "responses": {"200": _json({
            "type": "object", "required": ["items"],
            "properties": {"items": {"type": "array", "items": {
                "type": "object", "required": ["name", "n_versions", "current_version"],
                "properties": {"name": {"type": "string"}, "n_versions": {"type": "integer"},
                               "current_version": {"oneOf": [_ref("Version"),
                                                             {"type": "null"}]}}}}}})}}},
    "/api/v1/datasets/{dataset}": {"get": {
        "summary": "One dataset with all rounds / ชุดข้อมูลและรอบสำรวจ", "tags": ["datasets"],
        "parameters": [DATASET_PATH],
        "responses": {"200": _json({
            "type": "object", "required": ["name", "versions"],
            "properties": {"name": {"type": "string"},
                           "versions": {"type": "array", "items": _ref("Version")}}})}}},
    "/api/v1/datasets/{dataset}/versions": {"get": {
        "summary": "Versions (survey rounds), newest first / รอบสำรวจ", "tags": ["datasets"],
        "parameters": [DATASET_PATH],
        "responses": {"200": _json({
            "type": "object", "required": ["items"],
            "properties": {"items": {"type": "array", "items": _ref("Version")}}})}}},
    "/api/v1/areas/{level}": {"get": {
        "summary": "Areas of a level / พื้นที่ตามระดับ", "tags": ["areas"],
        "description": "village, h3_r8 and h3_r9 are listed one province at a time: "
                       "province (or parent) is required, else 422 "
                       "/ ระดับหมู่บ้านและ H3 r8/r9 ต้องระบุ province หรือ parent",
        "parameters": [LEVEL, *AREA_PARAMS, PROVINCE,
                       _q("parent", {"type": "string", "maxLength": 32},
                          "Only children of this area / เฉพาะพื้นที่ย่อยของ"),
                       LIMIT, OFFSET],
        "responses": {"200": _json(_ref("AreaList"))}}},
    "/api/v1/areas/{level}/{code}": {"get": {
        "summary": "One area and its children / พื้นที่และพื้นที่ย่อย", "tags": ["areas"],
        "parameters": [LEVEL, CODE, *AREA_PARAMS],
        "responses": {"200": _json(_ref("AreaDetail"))}}},
    "/api/v1/areas/{level}/{code}/coverage": {"get": {
        "summary": "Programme coverage and exclusion / ความครอบคลุมสวัสดิการและการตกหล่น",
        "tags": ["areas"], "parameters": [LEVEL, CODE, *AREA_PARAMS],
        "responses": {"200": _json(_ref("Coverage"))}}},
    "/api/v1/areas/{level}/{code}/kpi": {"get": {
        "summary": "KPI across survey rounds / ตัวชี้วัดตามรอบสำรวจ", "tags": ["areas"],
        "parameters": [LEVEL, CODE, DATASET],
        "responses": {"200": _json(_ref("Kpi"))}}},
    "/api/v1/areas/{level}/{code}/households": {"get": {
        "summary": "Household list (national, or provincial of that province; audited) "
                   "/ รายชื่อครัวเรือน (บันทึกการเข้าถึง)",
        "tags": ["households"], "security": [{"bearer": []}, {"session": []}],
        "parameters": [ADMIN_LEVEL, CODE, *AREA_PARAMS, LIMIT, OFFSET],
        "responses": {"200": _json(_ref("HouseholdList"))}}},
    "/api/v1/measures": {"get": {
        "summary": "Measure catalogue / รายการตัวชี้วัด", "tags": ["areas"],
        "responses": {"200": _json({
            "type": "object", "required": ["default", "items", "groups", "levels"],
            "properties": {"default": {"type": "string"},
                           "items": {"type": "array", "items": {
                               "type": "object", "required": ["id", "th", "en", "format"],
                               "properties": {"id": {"type": "string"},
                                              "th": {"type": "string"},
                                              "en": {"type": "string"},
                                              "format": {"type": "string"}}}},
                           "groups": {"type": "array"},
                           "levels": {"type": "array", "items": {"type": "string"}}}})}}},
    "/api/v1/cells": {"get": {
        "summary": "H3 cells of a resolution / เซลล์หกเหลี่ยม H3", "tags": ["cells"],
        "description": "Resolutions 8 and 9 need province or parent, else 422 "
                       "/ ความละเอียด 8 และ 9 ต้องระบุ province หรือ parent",
        "parameters": [_q("resolution", {"type": "integer", "enum": [6, 7, 8, 9],
                                         "default": 8}, "H3 resolution"),
                       *AREA_PARAMS, PROVINCE,
                       _q("parent", {"type": "string", "pattern": CODE_REGEX["h3_r9"]},
                          "Only children of this cell"), LIMIT, OFFSET],
        "responses": {"200": _json(_ref("CellList"))}}},
    "/api/v1/cells/{cell}": {"get": {
        "summary": "One H3 cell with parent and children / เซลล์ H3", "tags": ["cells"],
        "parameters": [_p("cell", {"type": "string", "maxLength": 32}, "H3 cell id (hex)"),
                       *AREA_PARAMS],
        "responses": {"200": _json(_ref("CellDetail"))}}},
    "/api/v1/exports/areas/{level}.{fmt}": {"get": {
        "summary": "Area table as CSV/XLSX/GeoJSON/GeoPackage / ส่งออกข้อมูลพื้นที่",
        "description": "village, h3_r8 and h3_r9 need province, else 422 "
                       "/ ระดับหมู่บ้านและ H3 r8/r9 ต้องระบุ province",
        "tags": ["exports"], "parameters": [LEVEL, FMT, *AREA_PARAMS, PROVINCE],
        "responses": {"200": FILE_RESPONSE}}},
    "/api/v1/exports/villages/{area}.{fmt}": {"get": {
        "summary": "Village target list of an area, ranked (public = suppressed) "
                   "/ ส่งออกรายชื่อหมู่บ้านเป้าหมาย", "tags": ["exports"],
        "parameters": [AREA_CODE, FMT, *AREA_PARAMS],
        "responses": {"200": FILE_RESPONSE}}},
    "/api/v1/exports/households/{area}.{fmt}": {"get": {
        "summary": "Poor households nearest to exit first, CSV/XLSX (authorised; audited) "
                   "/ ส่งออกรายชื่อครัวเรือนเป้าหมาย",
        "tags": ["exports", "households"], "security": [{"bearer": []}, {"session": []}],
        "parameters": [AREA_CODE, HOUSEHOLD_FMT, *AREA_PARAMS],
        "responses": {"200": FILE_RESPONSE}}},
}


def _problem_responses() -> dict[str, Any]:
    return {code: {"description": text,
                   "content": {"application/problem+json": {"schema": _ref("Problem")}}}
            for code, text in ERROR_CODES.items()}


def extra_paths() -> dict[str, Any]:
    """Path items declared by other blueprint modules (``OPENAPI_PATHS``)."""
    from service.api import BLUEPRINT_MODULES

    out: dict[str, Any] = {}
    for name in BLUEPRINT_MODULES:
        if name == __name__:
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        out.update(copy.deepcopy(getattr(module, "OPENAPI_PATHS", {}) or {}))
    return out


def build_document() -> dict[str, Any]:
    paths = copy.deepcopy(CORE_PATHS)
    paths.update(extra_paths())
    errors = _problem_responses()
    for item in paths.values():
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = op.setdefault("responses", {})
            for code, resp in errors.items():
                responses.setdefault(code, resp)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Chipao (ชี้เป้า) API",
            "version": __version__,
            "description": (
                "Poverty targeting statistics for Thailand. Anonymous callers get "
                "disclosure-controlled aggregates of precomputed geographies; national and "
                "provincial accounts authenticate with `Authorization: Bearer <token>`. "
                "Errors are RFC 9457 problem details. / สถิติชี้เป้าความยากจน "
                "ผู้ใช้ทั่วไปเห็นเฉพาะข้อมูลรวมที่ผ่านการปกปิดข้อมูลขนาดเล็ก"),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "API token from `chipao users token`"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "Web sign-in at /login"},
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(build_document())


DOCS_PAGE = """<!doctype html>
<html lang="th"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>เอกสาร API · API documentation — Chipao</title>
<link rel="stylesheet" href="/assets/maps/chipao-page.css"><link rel="icon" href="/assets/maps/favicon.svg" type="image/svg+xml">
<style>
body{font-family:"Sarabun",sans-serif;max-width:62rem;margin:1.5rem auto;padding:0 1rem;line-height:1.4}
.op{border:1px solid #ccd;border-radius:6px;margin:1rem 0;padding:.6rem .9rem}
.m{display:inline-block;min-width:3.5rem;font-weight:bold;color:#fff;background:#2a6;
 border-radius:4px;text-align:center;margin-right:.5rem}
code{background:#f3f3f6;padding:0 .25rem}table{border-collapse:collapse;margin:.4rem 0}
td,th{border:1px solid #dde;padding:.2rem .5rem;text-align:left;font-size:.92rem}
</style></head><body>
<h1>{{ doc.info.title }} <small>{{ doc.info.version }}</small></h1>
<p>{{ doc.info.description }}</p>
<p>เอกสาร OpenAPI (เครื่องอ่านได้) · Machine-readable document:
<a href="openapi.json">openapi.json</a></p>
{% for path, item in paths %}{% for method, op in item.items() %}
<div class="op" id="{{ method }}-{{ path }}">
<div><span class="m">{{ method|upper }}</span><code>{{ path }}</code></div>
<p>{{ op.summary }}{% if op.security %} <b>🔒 ต้องยืนยันตัวตน · authentication</b>{% endif %}</p>
{% if op.parameters %}<table><tr><th>พารามิเตอร์ · parameter</th><th>in</th>
<th>schema</th><th>คำอธิบาย · description</th></tr>
{% for p in op.parameters %}<tr><td><code>{{ p.name }}</code>{% if p.required %} *{% endif %}</td>
<td>{{ p['in'] }}</td><td><code>{{ p.schema|tojson }}</code></td><td>{{ p.description }}</td></tr>
{% endfor %}</table>{% endif %}
<p>ผลลัพธ์ · responses: {% for code in op.responses %}<code>{{ code }}</code> {% endfor %}</p>
</div>{% endfor %}{% endfor %}
</body></html>"""


@bp.get("/docs")
def docs():
    doc = build_document()
    return render_template_string(DOCS_PAGE, doc=doc, paths=sorted(doc["paths"].items()))
