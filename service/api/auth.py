"""Who is asking: roles, API tokens, session login, CSRF and the household-level audit log.

Roles (docs/CONTRACT.md §5):

* ``national``   sees every province in detail and household lists everywhere;
* ``provincial`` sees its own province in detail (household lists included); other provinces
  only as the public sees them (suppressed aggregates);
* ``public``     anonymous: suppressed aggregates of precomputed geographies only.

A request authenticates with ``Authorization: Bearer chp_...`` (API token, hashed at rest,
revocable) or with the session cookie set by the bilingual ``/login`` page. A bad or revoked
token is a 401, never a silent downgrade to public. State-changing requests that ride on the
session cookie must carry the CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``); token-authenticated and anonymous requests carry no ambient authority and
need none.

Helpers for other blueprints: :func:`current_principal`, :func:`require_role`,
:func:`can_see_province`, :func:`require_province`, :func:`needs_suppression`,
:func:`audit`, :func:`no_store`, :func:`csrf_token` (also a Jinja global).
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
)
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import BadRequest

# re-exported (``X as X``): blueprints import the principal helpers from here
from service.access.principal import PUBLIC as PUBLIC
from service.access.principal import Principal as Principal
from service.access.principal import can_see_province as can_see_province
from service.access.principal import needs_suppression as needs_suppression
from service.access.principal import require_detail as require_detail
from service.access.principal import visible_provinces as visible_provinces
from service.errors import Forbidden, Unauthorized
from service.store.users import ROLES, User, UserStore
from service.vocabulary import ROLES as VOCABULARY_ROLES

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

ROLE_LABELS = {role: label.both for role, label in VOCABULARY_ROLES.items()}


@bp.app_template_global()
def role_label(role: str) -> str:
    """A role in Thai and English for the pages."""
    return ROLE_LABELS.get(role, role)


F = TypeVar("F", bound=Callable[..., Any])

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})




def principal_for(user: User) -> Principal:
    return Principal(user.role, user.province, user.username)


def user_store(app: Flask | None = None) -> UserStore:
    """The app's :class:`UserStore` (owned by :class:`service.api.services.Services`)."""
    from service.api.services import services

    return services(app).users


# -- who is asking -------------------------------------------------------------------------
def _resolve_principal() -> Principal:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>' / ใช้ Bearer token")
        user = user_store().user_for_token(secret.strip())
        if user is None:
            raise Unauthorized(
                "the API token is unknown or revoked / โทเคนไม่ถูกต้องหรือถูกเพิกถอนแล้ว")
        return principal_for(user)
    uid = session.get("uid")
    if uid is not None:
        # the server-side session row: revoked at sign-out, void after a password change
        if not session_store().valid(session.get("sid"), int(uid)):
            session.pop("uid", None)
            session.pop("sid", None)
            return PUBLIC
        user = user_store().get_user_by_id(int(uid))
        if user is not None and user.active:
            return principal_for(user)
        session.pop("uid", None)  # user disabled since login: the session is void
    return PUBLIC


def session_store(app: Flask | None = None):
    """The app's :class:`service.store.sessions.SessionStore` (created once per app)."""
    from service.api.services import services
    from service.store.sessions import SessionStore

    s = services(app)
    with _SESSIONS_LOCK:
        if s.sessions is None:
            s.sessions = SessionStore(s.settings.database_url)
    return s.sessions


_SESSIONS_LOCK = threading.Lock()


def current_principal() -> Principal:
    """The :class:`Principal` of this request (anonymous = ``public``), cached per request."""
    if "chipao_principal" not in g:
        g.chipao_principal = _resolve_principal()
    return g.chipao_principal


def via_token() -> bool:
    return request.headers.get("Authorization") is not None


def require_province(code: str | None, principal: Principal | None = None) -> Principal:
    """Raise 401/403 unless the principal may see detail (household level) of ``code``."""
    principal = principal or current_principal()
    try:
        return require_detail(principal, code)
    except (Unauthorized, Forbidden):
        _audit_denied(principal, code,
                      "other province" if principal.is_authenticated else "anonymous")
        raise


def _audit_denied(principal: Principal, code: str | None, why: str) -> None:
    """A refused household-level attempt is audited too (who, what, from where)."""
    try:
        endpoint = request.endpoint or "-"
        remote = request.remote_addr
    except RuntimeError:  # outside a request (CLI checks): nothing to audit
        return
    user_store().audit(username=principal.username, role=principal.role,
                       province=principal.province, action=f"denied.{endpoint}",
                       object=str(code or "-"), detail=why, remote_addr=remote)


def require_role(*roles: str) -> Callable[[F], F]:
    """View decorator: 401 for anonymous callers, 403 for signed-in callers of another role."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown role(s): {sorted(unknown)}")

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if principal.role not in roles:
                if not principal.is_authenticated:
                    raise Unauthorized("sign in first / กรุณาเข้าสู่ระบบ")
                raise Forbidden(f"role {principal.role} may not do this / "
                                f"บทบาท {principal.role} ไม่มีสิทธิ์")
            return view(*args, **kwargs)

        wrapper.chipao_roles = tuple(roles)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def audit(action: str, obj: str, detail: str = "") -> None:
    """Append an audit row for a household-level read or export (who, what, when).

    ``obj`` names the object (dataset/version/area code), never a person: no names or IDs.
    """
    p = current_principal()
    user_store().audit(username=p.username, role=p.role, province=p.province, action=action,
                       object=obj, detail=detail, remote_addr=request.remote_addr)
    g.chipao_no_store = True


def no_store() -> None:
    """Mark this response as personal data: sent with Cache-Control: no-store."""
    g.chipao_no_store = True


# -- CSRF ------------------------------------------------------------------------------------
def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _check_csrf() -> None:
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise BadRequest("CSRF token missing or wrong: reload the page and try again / "
                         "โทเคน CSRF ไม่ถูกต้อง กรุณาโหลดหน้าใหม่แล้วลองอีกครั้ง")


def _csrf_guard() -> None:
    if request.method not in UNSAFE_METHODS or via_token():
        return
    if session.get("uid") is not None or request.endpoint in {"auth.login", "auth.logout"}:
        _check_csrf()


# -- pages -----------------------------------------------------------------------------------
# login page: maps/templates/login.html (extends base.html:
# the site navigation of every page)


def _safe_next(value: str | None) -> str:
    """Only same-site relative paths: no open redirect to //evil.example, https://...,
    and no control characters (browsers drop tabs and newlines, so ``/\t/evil.example``
    would become ``//evil.example``; a newline in a header was a 500)."""
    from urllib.parse import urlsplit

    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value) or len(value) > 2000:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


@bp.get("/login")
def login_form():
    return render_template("login.html", error=False, next=_safe_next(request.args.get("next")),
                                  principal=current_principal())


@bp.post("/login")
def login():
    from service.api.services import services

    limiter = services().limiter
    if limiter is not None:
        with limiter.limit("10 per minute", scope="login"):
            return _do_login()
    return _do_login()


def _do_login():
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    user = user_store().authenticate(username, password) if username and password else None
    if user is None:
        log.info("failed sign-in from %s", request.remote_addr)
        body = render_template("login.html", error=True,
                                      next=_safe_next(request.form.get("next")),
                                      principal=PUBLIC)
        return body, 401
    session.clear()  # no session fixation: a fresh session and CSRF token
    session["uid"] = user.id
    session["sid"] = session_store().open(user.id)
    session["csrf"] = secrets.token_urlsafe(32)
    g.chipao_principal = principal_for(user)
    log.info("user id=%s signed in", user.id)
    return redirect(_safe_next(request.form.get("next")), code=303)


@bp.post("/logout")
def logout():
    # revoked server-side: a saved copy of the cookie no longer signs anyone in
    session_store().revoke(session.get("sid"))
    session.clear()
    return redirect("/", code=303)


# account page: maps/templates/account.html (extends base.html:
# the site navigation of every page)


def _session_principal() -> Principal:
    # account pages work with the web session only (a token cannot mint more tokens)
    p = current_principal()
    if via_token() or not p.is_authenticated:
        raise Unauthorized("sign in at /login first / กรุณาเข้าสู่ระบบที่ /login")
    return p


def _account_page(secret: str | None = None):
    p = _session_principal()
    tokens = user_store().list_tokens(p.username)
    body = render_template("account.html", principal=p, tokens=tokens, secret=secret)
    no_store()
    return body


@bp.get("/account")
def account():
    """The signed-in user's API tokens (list, create, revoke)."""
    return _account_page()


@bp.post("/account/tokens")
def create_token():
    p = _session_principal()
    secret, _ = user_store().create_token(str(p.username), request.form.get("label", "")[:128])
    return _account_page(secret)


@bp.post("/account/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    p = _session_principal()
    user_store().revoke_token(token_id, username=p.username)
    return redirect("/account", code=303)


@bp.get("/api/v1/me")
def me():
    """Who the API thinks you are (role, province, username)."""
    p = current_principal()
    return jsonify({"role": p.role, "province": p.province, "username": p.username})


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions with the Secure flag from the setting
    ``session_cookie_secure``: 'auto' = when this request came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        mode = app.config["CHIPAO"].session_cookie_secure.lower()
        if mode == "on":
            return True
        if mode == "off":
            return False
        try:
            return bool(request.is_secure)
        except RuntimeError:  # no request: the configured default
            return bool(app.config.get("SESSION_COOKIE_SECURE"))


def init_app(app: Flask) -> None:
    mode = app.config["CHIPAO"].session_cookie_secure.lower()
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"setting session_cookie_secure: {mode!r} is not auto, on or off")
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.session_interface = _SessionInterface()
    # ProxyFix for CHIPAO_TRUSTED_PROXIES is applied by create_app
    app.register_blueprint(bp)
    app.before_request(_csrf_guard)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_principal"] = current_principal
