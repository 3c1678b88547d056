"""Home page, health check, security headers on every response, body size and rate limits.

Headers (DESIGN.md security checklist 13):

* ``Content-Security-Policy`` with ``frame-ancestors 'none'``, unless the view set its own
  policy (kept as is) or set ``g.csp_frame_ancestors`` (the embed blueprint's allow-list);
* ``X-Frame-Options: DENY`` unless the page may be framed;
* ``Cache-Control: no-store`` on personal data (``auth.no_store()`` / ``auth.audit()``) and
  on every response to a signed-in caller, which may contain unsuppressed figures;
* ``Access-Control-Allow-Origin: *`` only on anonymous ``/api/v1`` reads (suppressed public
  aggregates), never on authenticated responses.

Flask-Limiter is set up here (settings ``rate_limit`` and ``rate_limit_storage_uri``); request
bodies are capped at 1 MiB except on views marked with :func:`allow_large_body` (uploads,
which get ``max_upload_mb``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, g, jsonify, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from service import __version__
from service.api.services import services

log = logging.getLogger(__name__)

bp = Blueprint("core", __name__)

F = TypeVar("F", bound=Callable[..., Any])

#: body limit of ordinary requests (JSON parameters, forms)
SMALL_BODY_BYTES = 1024 * 1024

BASE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'"
)


def allow_large_body(view: F) -> F:
    """Mark an upload view: it accepts bodies up to ``max_upload_mb`` instead of 1 MiB."""
    view.chipao_large_body = True  # type: ignore[attr-defined]
    return view


HOME_PAGE = """<!doctype html>
<html lang="th"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ชี้เป้า Chipao</title>
<link rel="stylesheet" href="/assets/maps/chipao-page.css"><link rel="icon" href="/assets/maps/favicon.svg" type="image/svg+xml">
</head><body class="home">
<header class="home-head">
<h1>ชี้เป้า <small>Chipao</small></h1>
<nav class="home-account">
{% if principal.is_authenticated %}
<a href="/account">{{ principal.username }}</a> ({{ role_label(principal.role) }}{% if principal.province %},
 {{ principal.province }}{% endif %})
<form method="post" action="/logout">
<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<button type="submit">ออกจากระบบ · Sign out</button></form>
{% else %}
<a href="/login">เข้าสู่ระบบ · Sign in</a>
{% endif %}
</nav>
</header>
<p>แผนที่และรายชื่อเป้าหมายการแก้ไขปัญหาความยากจน<br>
<span lang="en">Poverty targeting maps and lists for Thailand.</span></p>

{% if home.version is none %}
<section class="home-empty" id="no-data">
<h2>ยังไม่มีข้อมูล <small lang="en">No data yet</small></h2>
<p>ชุดข้อมูล <code>{{ home.dataset }}</code> ยังไม่มีรุ่นที่พร้อมใช้
 ผู้ดูแลระบบสร้างข้อมูลตัวอย่างได้ด้วย <code>chipao demo</code>
 หรือนำเข้าข้อมูลจริงด้วย <code>chipao ingest</code><br>
<span lang="en">Dataset <code>{{ home.dataset }}</code> has no ready version yet. An administrator
 can build demo data with <code>chipao demo</code> or import survey files with
 <code>chipao ingest</code>.</span></p>
</section>
{% else %}
<p class="home-version" id="dataset">ชุดข้อมูล <span lang="en">Dataset</span>
 <code>{{ home.dataset }}</code> · รอบ <span lang="en">round</span>
 <strong>{{ home.version.round }}</strong> · รุ่น <span lang="en">version</span>
 <code>{{ home.version.id }}</code>{% if home.created %} · {{ home.created }}{% endif %}</p>

{% if home.headline %}
<section id="headline">
<h2>ภาพรวม <small lang="en">Headline figures</small></h2>
<table class="home-table">
<thead><tr><th scope="col">ตัวชี้วัด <span lang="en">Measure</span></th>
{% for col in home.columns %}<th scope="col" class="num">{{ col.th }}<br><span lang="en">{{ col.en }}</span>
{% if col.public %}<br><small>ตัวเลขสาธารณะ · public figures</small>{% endif %}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in home.headline %}<tr data-measure="{{ row.id }}"><th scope="row">{{ row.th }}<br><span lang="en">{{ row.en }}</span></th>
{% for cell in row.cells %}<td class="num">{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
<p class="home-note">ความยากจนหลายมิติ (H, A, M0) ที่เกณฑ์ k = {{ home.k }}
 · <span lang="en">Multidimensional poverty (H, A, M0) at cut-off k = {{ home.k }}.</span>
 คนจนเป้าหมาย = ขาดอย่างน้อยหนึ่งมิติและถือบัตรสวัสดิการแห่งรัฐ
 · <span lang="en">Target poor = deprived in any dimension and a validated welfare-card
 holder (TPMAP).</span></p>
</section>

{% if home.programmes %}
<section id="programmes">
<h2>คนตกหล่นจากสวัสดิการ <small lang="en">People excluded from programmes</small></h2>
<table class="home-table">
<thead>
<tr><th scope="col" rowspan="2">โครงการ <span lang="en">Programme</span></th>
{% for col in home.columns %}<th scope="colgroup" colspan="3" class="num">{{ col.th }} <span lang="en">{{ col.en }}</span></th>{% endfor %}</tr>
<tr>{% for col in home.columns %}<th scope="col" class="num">ผู้มีสิทธิ <span lang="en">Eligible</span></th>
<th scope="col" class="num">ตกหล่น <span lang="en">Excluded</span></th>
<th scope="col" class="num">ครอบคลุม <span lang="en">Coverage</span></th>{% endfor %}</tr>
</thead>
<tbody>
{% for row in home.programmes %}<tr data-programme="{{ row.id }}"><th scope="row">{{ row.th }}<br><span lang="en">{{ row.en }}</span></th>
{% for cell in row.cells %}<td class="num">{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
</section>
{% endif %}
{% else %}
<p class="home-empty">ยังไม่มีตารางระดับประเทศในรุ่นนี้ (รัน <code>chipao aggregate</code>)
 · <span lang="en">This version has no country table yet (run <code>chipao aggregate</code>).</span></p>
{% endif %}

{% if home.top_heads %}
<section id="top-provinces">
<h2>10 จังหวัดที่มีสัดส่วนคนจนเป้าหมายสูงสุด
 <small lang="en">10 provinces with the highest target-poor rate</small></h2>
<table class="home-table">
<thead><tr><th scope="col" class="num">ลำดับ <span lang="en">Rank</span></th>
<th scope="col">จังหวัด <span lang="en">Province</span></th>
{% for h in home.top_heads %}<th scope="col" class="num">{{ h.th }}<br><span lang="en">{{ h.en }}</span></th>{% endfor %}</tr></thead>
<tbody>
{% for row in home.top %}<tr data-code="{{ row.code }}"{% if row.own %} class="own"{% endif %}><td class="num">{{ loop.index }}</td>
<th scope="row"><a href="/maps/area/{{ row.code }}?measure=target_poor_rate">{{ row.name_th }}</a>
<span lang="en">{{ row.name_en }}</span></th>
{% for cell in row.cells %}<td class="num">{{ cell }}</td>{% endfor %}</tr>
{% else %}<tr><td colspan="{{ home.top_heads|length + 2 }}">ไม่มีจังหวัดที่เปิดเผยตัวเลขได้
 · <span lang="en">No province has public figures.</span></td></tr>
{% endfor %}</tbody></table>
<p class="home-note">ตัวเลขสาธารณะหลังการปกปิดข้อมูล · <span lang="en">Public figures after
 disclosure control.</span>{% if home.n_hidden %} ไม่แสดง {{ home.n_hidden }} จังหวัดที่ปกปิดหรือไม่มีข้อมูล
 · <span lang="en">{{ home.n_hidden }} withheld or empty provinces are not ranked.</span>{% endif %}</p>
<p class="home-note" id="top-definition">รายการนี้เรียงตาม<strong>สัดส่วนคนจนเป้าหมาย</strong>เท่านั้น ไม่ใช่ลำดับความสำคัญ
 ลำดับความสำคัญ (คะแนนรวมจำนวนคนจน M0 คนตกหล่น ฯลฯ ตามน้ำหนักที่ปรับได้ เหมือน API) ดูที่
 <a href="/ranking?area=TH">จัดลำดับความสำคัญของจังหวัด</a>
 · <span lang="en">This list is ordered by the <strong>target-poor rate</strong> only; it is not the
 priority ranking. The priority ranking (a weighted score of poor people, M0, exclusions ...;
 the same as <code>/api/v1/rankings</code>) is at <a href="/ranking?area=TH">province priority
 ranking</a>.</span></p>
</section>
{% endif %}
{% endif %}

<section id="links">
<h2>แผนที่และเครื่องมือ <small lang="en">Maps and tools</small></h2>
<ul class="home-links">
{% for link in home.map_links %}<li><a href="{{ link.href }}">{{ link.th }} · <span lang="en">{{ link.en }}</span></a></li>
{% endfor %}
<li><a href="/embed-code">โค้ดฝังแผนที่ในเว็บไซต์ · <span lang="en">Embed a map in your site</span></a></li>
<li><a href="/api/v1/docs">เอกสาร API · <span lang="en">API documentation</span></a></li>
{% if principal.is_authenticated %}<li><a href="/account">บัญชีผู้ใช้ · <span lang="en">Account</span></a></li>
{% else %}<li><a href="/login">เข้าสู่ระบบ (เจ้าหน้าที่จังหวัด) · <span lang="en">Sign in (provincial staff)</span></a></li>{% endif %}
</ul>
</section>
<footer><small>Chipao version {{ version }}</small></footer>
</body></html>"""

#: (measure id in maps/measures.json, also the map link) for the national map shortcuts
MAP_LINKS = ("target_poor_rate", "m0", "excl_elderly_allowance", "excl_child_grant")
#: headline rows: (measure id or None, column, format, th, en); labels from the catalogue
#: when a measure id is given
HEADLINE = (
    (None, "n_households", "count", "ครัวเรือนที่สำรวจ", "Surveyed households"),
    (None, "n_persons", "count", "คนที่สำรวจ", "Surveyed people"),
    ("n_target_poor", "n_target_poor", "count", "", ""),
    ("target_poor_rate", None, "percent", "", ""),
    ("h", "h", "percent", "", ""),
    ("a", "a", "percent", "", ""),
    ("m0", "m0", "ratio", "", ""),
)
WITHHELD = "ไม่เปิดเผย · withheld"
NO_DATA = "ไม่มีข้อมูล · no data"


def _is_na(value: Any) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))


def _cell(row: Any, value: Any, fmt: str, columns: tuple[str, ...], public: bool) -> str:
    """A figure for people; withheld (public view, an input column nulled by disclosure
    control) is told apart from no data (a zero denominator, a missing column)."""
    from service.render.catalogue import format_value

    if not _is_na(value):
        return format_value(float(value), fmt)
    suppressed = row.get("suppressed")
    if public and ((not _is_na(suppressed) and bool(suppressed)) or
                   any(c in row and _is_na(row[c]) for c in columns)):
        return WITHHELD
    return NO_DATA


def _programme_names() -> dict[str, tuple[str, str]]:
    from service.vocabulary import PROGRAMMES

    return {p: (label.th, label.en) for p, label in PROGRAMMES.items()}


def _spec_k(meta: dict) -> str:
    """The cut-off k of the version's indicator specification, e.g. '26 %'."""
    from service.analysis.spec import load_spec

    try:
        k = float(load_spec(str(meta.get("spec") or "tpmap")).k)
    except Exception:  # a custom spec file moved since: say so rather than fail the page
        log.warning("home: cannot load the spec of this version to show k", exc_info=True)
        return "?"
    return f"{k * 100:.0f} %" if abs(k * 100 - round(k * 100)) < 1e-9 else f"{k * 100:.1f} %"


def home_figures(dataset: str, principal: Any) -> dict[str, Any]:
    """Everything the home page shows, as the principal may see it (strings for people).

    Computed once per (dataset, version, role, province): a new version is a new key, so
    the page follows ``chipao datasets use`` and new imports at once.
    """
    from service.api.datasets import get_store
    from service.errors import NotFound
    from service.render.catalogue import load_catalogue

    cat = load_catalogue()
    out: dict[str, Any] = {"dataset": dataset, "version": None, "headline": [],
                           "programmes": [], "top": [], "columns": []}
    out["map_links"] = [{"href": f"/maps/?measure={m}", "th": cat.get(m).th,
                         "en": cat.get(m).en} for m in MAP_LINKS if m in cat.measures]
    try:
        v = get_store().current(dataset)
    except NotFound:
        return out

    def make() -> dict[str, Any]:
        _fill_figures(out, v, dataset, principal)
        return out

    return services().home.get_or_build((dataset, v.id, principal.role, principal.province),
                                        make)


def _fill_figures(out: dict[str, Any], v: Any, dataset: str, principal: Any) -> None:
    from service.api.areas import level_view, public_frame
    from service.errors import NotFound
    from service.render.catalogue import compute, load_catalogue

    cat = load_catalogue()
    out["version"] = v
    out["created"] = str(v.created_at)[:16].replace("T", " ") if v.created_at else ""
    out["k"] = _spec_k(v.meta or {})

    # area columns: the country, and a provincial user's own province in detail
    areas = []
    try:
        country = level_view(dataset, v.id, "country", principal)
    except NotFound:
        country = None
    if country is not None and not country.empty:
        areas.append(("ประเทศไทย", "Thailand", country.iloc[0]))
    if principal.role == "provincial" and principal.province:
        try:
            provinces = level_view(dataset, v.id, "province", principal)
        except NotFound:
            provinces = None
        if provinces is not None:
            own = provinces[provinces["code"] == principal.province]
            if not own.empty:
                r = own.iloc[0]
                areas.append((str(r.get("name_th") or r["code"]),
                              str(r.get("name_en") or r["code"]), r))
    out["columns"] = [{"th": th, "en": en, "public": r.get("view") == "public"}
                      for th, en, r in areas]

    for mid, column, fmt, th, en in HEADLINE:
        m = cat.measures.get(mid) if mid else None
        cells = []
        for _, _, r in areas:
            public = r.get("view") == "public"
            cols: tuple[str, ...]
            if column is not None:
                value, cols = r.get(column), (column,)
            elif m is not None:
                try:
                    value = compute(r.to_frame().T, m).iloc[0]
                except ValueError:  # a column the measure needs is not in this table
                    value = None
                cols = m.columns()
            else:
                value, cols = None, ()
            cells.append(_cell(r, value, fmt, cols, public))
        out["headline"].append({"id": mid or column, "th": m.th if m else th,
                                "en": m.en if m else en, "cells": cells})

    names = _programme_names()
    progs = sorted({c[len("n_elig_"):] for _, _, r in areas for c in r.index
                    if str(c).startswith("n_elig_")},
                   key=lambda p: (list(names).index(p) if p in names else len(names), p))
    for p in progs:
        cells = []
        for _, _, r in areas:
            public = r.get("view") == "public"
            elig = f"n_elig_{p}"
            cells += [_cell(r, r.get(elig), "count", (elig,), public),
                      _cell(r, r.get(f"n_excl_{p}"), "count", (elig, f"n_excl_{p}"), public),
                      _cell(r, r.get(f"cov_{p}"), "percent", (elig, f"n_excl_{p}"), public)]
        th, en = names.get(p, (p, p))
        out["programmes"].append({"id": p, "th": th, "en": en, "cells": cells})

    # the ten provinces with the highest target-poor rate, public figures for everyone
    try:
        prov = public_frame(dataset, v.id, "province")
    except NotFound:
        prov = None
    if prov is not None and not prov.empty:
        rate_m = cat.get("target_poor_rate")
        try:
            rate = compute(prov, rate_m)
        except ValueError:
            rate = None
        if rate is not None:
            visible = rate.notna()
            if "suppressed" in prov.columns:
                visible &= ~prov["suppressed"].fillna(False).astype(bool)
            ranked = prov[visible].assign(_rate=rate[visible])
            ranked = ranked.sort_values(["_rate", "code"], ascending=[False, True],
                                        kind="stable").head(10)
            heads = [("target_poor_rate", "_rate", "percent"),
                     ("n_target_poor", "n_target_poor", "count"),
                     (None, "n_persons", "count"), ("m0", "m0", "ratio")]
            out["top_heads"] = [
                {"th": cat.get(mid).th, "en": cat.get(mid).en} if mid else
                {"th": "คนที่สำรวจ", "en": "Surveyed people"} for mid, _, _ in heads]
            for _, r in ranked.iterrows():
                out["top"].append({
                    "code": r["code"], "name_th": r.get("name_th") or r["code"],
                    "name_en": r.get("name_en") or "",
                    "own": principal.province == r["code"],
                    "cells": [_cell(r, r.get(col), fmt, (col,), True)
                              for _, col, fmt in heads],
                })
            out["n_hidden"] = int((~visible).sum())


@bp.get("/")
def home():
    from service.api.auth import current_principal
    from service.api.datasets import dataset_arg

    principal = current_principal()
    figures = home_figures(dataset_arg(), principal)
    templates = services().templates
    template = templates.get("home")
    if template is None:  # compiled once: compiling took half of the page's time
        template = templates.setdefault("home", current_app.jinja_env.from_string(HOME_PAGE))
    return render_template(template, principal=principal, home=figures,
                           version=__version__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok", "version": __version__})


def _rate_key() -> str:
    from service.api.auth import current_principal

    try:
        p = current_principal()
    except Exception:  # a bad token is answered by the view with 401; count it per address
        return "addr:" + get_remote_address()
    if p.is_authenticated:
        return "user:" + str(p.username)
    return "addr:" + get_remote_address()


def _limit_body() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, "chipao_large_body", False):
        return
    request.max_content_length = min(SMALL_BODY_BYTES,
                                     current_app.config.get("MAX_CONTENT_LENGTH") or
                                     SMALL_BODY_BYTES)


def _security_headers(response):
    headers = response.headers
    ancestors = g.get("csp_frame_ancestors")
    if "Content-Security-Policy" not in headers:
        frame = ancestors if ancestors else "'none'"
        headers["Content-Security-Policy"] = f"{BASE_CSP}; frame-ancestors {frame}"
    framable = bool(ancestors) or "frame-ancestors 'none'" not in headers.get(
        "Content-Security-Policy", "")
    if not framable:
        headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")

    authenticated = _authenticated_quietly()
    if g.get("chipao_no_store") or authenticated:
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    headers.add("Vary", "Authorization, Cookie")
    if authenticated:
        headers.pop("Access-Control-Allow-Origin", None)
    elif request.path.startswith("/api/v1/") and request.method in {"GET", "HEAD"} \
            and response.status_code < 500 and not g.get("chipao_no_store"):
        headers.setdefault("Access-Control-Allow-Origin", "*")
    if response.status_code == 401 and request.headers.get("Authorization"):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="chipao"')
    return response


def _authenticated_quietly() -> bool:
    from service.api.auth import current_principal

    try:
        return current_principal().is_authenticated
    except Exception:
        return bool(request.headers.get("Authorization"))


def init_app(app: Flask) -> None:
    settings = app.config["CHIPAO"]
    limiter = Limiter(
        _rate_key,
        app=app,
        default_limits=[settings["rate_limit"]] if settings["rate_limit"] else [],
        storage_uri=settings["rate_limit_storage_uri"],
        headers_enabled=True,
        strategy="fixed-window",
    )
    limiter.exempt(bp)  # pages and health checks are cheap; the limits guard the API
    services(app).limiter = limiter
    app.register_blueprint(bp)
    app.before_request(_limit_body)
    app.after_request(_security_headers)
