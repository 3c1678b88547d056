"""Home page, health check, security headers on every response, body size and rate limits.

Headers (the security checklist, item 13):

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

def home_figures(dataset: str, principal: Any) -> dict[str, Any]:
    """The home page's figures (service.usecases.home) for this app."""
    from service.usecases import home

    return home.home_figures(services(), dataset, principal)


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
        default_limits=[settings.rate_limit] if settings.rate_limit else [],
        storage_uri=settings.rate_limit_storage_uri,
        headers_enabled=True,
        strategy="fixed-window",
    )
    limiter.exempt(bp)  # pages and health checks are cheap; the limits guard the API
    services(app).limiter = limiter
    app.register_blueprint(bp)
    app.before_request(_limit_body)
    app.after_request(_security_headers)
