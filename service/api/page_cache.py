"""Response cache of the common page views and reads (issue 16, availability).

A mixed crowd of 50 clients spends its time on the same few pages (area profiles, KPI
dashboard, map pages, ranking, area CSV exports), each recomputed on every call. Their
finished bodies are kept here, in an LRU bounded in bytes (:class:`service.lru.LRU`), under a
key of everything the body depends on (``Services.page_views``, ``PAGE_CACHE_BYTES``):

* the endpoint, path and the normalised query (sorted arguments; a language choice would be
  an argument) and the preferred language of ``Accept-Language`` (th / en / none);
* the caller's visibility: role and province (``public``, a province's staff, national);
  never the person: users of one province share entries;
* :meth:`service.store.catalog.Catalog.stamp` of the dataset asked for (a version made ready,
  released or rolled back, a new dataset: the entry is unreachable at once, in every
  server process, since the stamp is read from the catalog database on each request);
* the follow-up case-table generation (:meth:`service.followup.store.CaseStore.generation`)
  for pages that show follow-up progress; today's date (past-due counts, file names);
* whether the body is gzip-compressed for this client.

What is never stored: any answer but 200; a body above ``MAX_ENTRY_BYTES``; responses marked ``no_store`` (personal data,
audited reads); responses with ``Set-Cookie`` or a session changed while rendering; a body
that holds the signed-in user's name or the session's CSRF token. The per-user parts of a
signed-in page (the user name and the sign-out form's CSRF token in the header) are rendered
as *holes* while the body is made (``principal.username`` and ``csrf_token()`` give markers)
and filled in for each caller when the body is sent, so user A's page never carries A's name
or token to user B or to the public (tests/test_page_cache.py).

Entries without holes carry an ``ETag`` (a hash of the body): a repeat load with
``If-None-Match`` answers 304. Security headers, rate limits and sign-in checks run on cached
answers as on fresh ones (only the view function is skipped).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, request, session
from markupsafe import escape

from service.api.assets import accepts_gzip
from service.api.services import services

log = logging.getLogger(__name__)

#: markers standing for the per-user parts while a cached body is rendered (letters, digits
#: and dashes only: HTML escaping and URL quoting leave them as they are)
USER_HOLE = "chipao-hole-user-5e0c7a"
CSRF_HOLE = "chipao-hole-csrf-5e0c7a"

#: cached endpoints -> what their body depends on besides the path, query and visibility
CACHED: dict[str, tuple[str, ...]] = {
    "core.home": ("dataset",),
    "pages.area_page": ("dataset", "followup"),
    "pages.ranking_page": ("dataset",),
    "pages.kpi_page": ("dataset", "followup"),
    "maps.national": ("dataset",),
    "maps.area": ("dataset",),
    "exports.export_areas": ("dataset",),
}

#: the largest body stored (a whole-country export would otherwise push every page out)
MAX_ENTRY_BYTES = 8 * 1024 * 1024

#: headers of the view's answer kept with the body (never Set-Cookie, never Cache-Control)
KEPT_HEADERS = ("Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language",
                "Vary")


@dataclass(frozen=True)
class Entry:
    body: bytes
    headers: tuple[tuple[str, str], ...]
    holes: bool
    gzipped: bool  # body is gzip-compressed (only for clients that accept it: in the key)
    etag: str | None

    @property
    def nbytes(self) -> int:
        return len(self.body) + 256


# -- key ---------------------------------------------------------------------------------------
def _key(deps: tuple[str, ...]) -> tuple | None:
    """The cache key of this request, or None when it must not be cached (a bad token or
    dataset name: the view answers the error)."""
    from service.api.auth import current_principal
    from service.vocabulary import DATASET_NAME

    try:
        p = current_principal()
    except Exception:
        return None
    s = services()
    dataset = request.args.get("dataset") or s.settings.default_dataset
    if not DATASET_NAME.fullmatch(dataset):
        return None
    stamps: list[Any] = []
    if "dataset" in deps:
        stamps.append(s.store.catalog.stamp(dataset))
    if "followup" in deps:
        from service.usecases.cases import case_store

        stamps.append(case_store(s).generation(dataset))
    return (request.endpoint, request.path, tuple(sorted(request.args.items(multi=True))),
            p.role, p.province, request.accept_languages.best_match(("th", "en")),
            accepts_gzip(), dt.date.today().isoformat(), dataset, *stamps)


# -- holes -------------------------------------------------------------------------------------
def collecting() -> bool:
    """True while a body to be cached is rendered: per-user parts become markers."""
    return bool(g.get("chipao_page_collect"))


def template_principal(principal: Any) -> Any:
    """The principal templates see: while collecting, a signed-in caller's name is a
    marker."""
    if not collecting() or not getattr(principal, "is_authenticated", False):
        return principal
    from service.access.principal import Principal

    return Principal(principal.role, principal.province, USER_HOLE)


def _csrf_for_templates() -> str:
    from service.api.auth import csrf_token

    return CSRF_HOLE if collecting() else csrf_token()


def _fill(body: bytes) -> bytes:
    """The holes of ``body`` filled for this caller (its name, its session's CSRF token)."""
    from service.api.auth import csrf_token, current_principal

    if USER_HOLE.encode() in body:
        name = current_principal().username or ""
        body = body.replace(USER_HOLE.encode(), str(escape(name)).encode("utf-8"))
    if CSRF_HOLE.encode() in body:
        body = body.replace(CSRF_HOLE.encode(), str(escape(csrf_token())).encode("utf-8"))
    return body


# -- request hooks -----------------------------------------------------------------------------
def _serve() -> Response | None:
    if request.method != "GET":
        return None
    deps = CACHED.get(request.endpoint or "")
    if deps is None:
        return None
    key = _key(deps)
    if key is None:
        return None
    entry = services().page_views.get(key)
    if entry is None:
        g.chipao_page_key = key
        g.chipao_page_collect = True
        return None
    if entry.etag is not None and request.if_none_match and \
            request.if_none_match.contains(entry.etag):
        resp = Response(status=304)
        resp.set_etag(entry.etag)
        return resp
    body = entry.body
    if entry.holes:
        body = _fill(gzip.decompress(body) if entry.gzipped else body)
        if entry.gzipped:
            body = gzip.compress(body, compresslevel=1, mtime=0)
    resp = Response(body, status=200)
    for name, value in entry.headers:
        resp.headers[name] = value
    if entry.etag is not None:
        resp.set_etag(entry.etag)
    return resp


def _refusal(response: Response, raw: bytes) -> str | None:
    """Why this answer must not be stored (None: it may)."""
    from service.api.auth import current_principal

    if response.status_code != 200:
        return "status"
    if g.get("chipao_no_store"):
        return "no-store"
    if "Set-Cookie" in response.headers or session.modified:
        return "cookie"
    if response.is_streamed or response.direct_passthrough:
        return "streamed"
    if len(raw) > MAX_ENTRY_BYTES:
        return "too large"
    name = current_principal().username
    if name and str(escape(name)).encode("utf-8") in raw:
        return "user name in body"
    token = session.get("csrf")
    if token and token.encode() in raw:
        return "CSRF token in body"
    return None


def _store(response: Response) -> Response:
    key = g.pop("chipao_page_key", None)
    if not g.pop("chipao_page_collect", False):
        return response
    if response.is_streamed or response.direct_passthrough:
        return response
    body = response.get_data()
    gzipped = response.headers.get("Content-Encoding") == "gzip"
    raw = gzip.decompress(body) if gzipped else body
    holes = USER_HOLE.encode() in raw or CSRF_HOLE.encode() in raw
    why = _refusal(response, raw) if key is not None else "no key"
    if why is None:
        etag = None if holes else hashlib.sha256(raw).hexdigest()[:24]
        headers = tuple((h, response.headers[h]) for h in KEPT_HEADERS if h in response.headers)
        services().page_views.put(key, Entry(body, headers, holes, gzipped, etag))
        if etag is not None:
            response.set_etag(etag)
    else:
        log.debug("page cache: %s not stored (%s)", request.path, why)
    if holes:  # this caller's answer: the markers filled in
        filled = _fill(raw)
        response.set_data(gzip.compress(filled, compresslevel=1, mtime=0) if gzipped
                          else filled)
    return response


def init_app(app: Flask) -> None:
    """Register the hooks; called last (after the limiter, CSRF guard and the pages'
    context processor, so the cached answer passes every check and the hole principal
    wins in templates)."""
    app.before_request(_serve)
    app.after_request(_store)
    app.jinja_env.globals["csrf_token"] = _csrf_for_templates
