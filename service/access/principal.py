"""The principal (who is asking) and what each role may see (docs/CONTRACT.md §5).

* ``national``   sees every province in detail;
* ``provincial`` sees its own province in detail, every other area as the public does;
* ``public``     anonymous: disclosure-controlled aggregates only.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.vocabulary import ROLES


@dataclass(frozen=True)
class Principal:
    role: str
    province: str | None = None
    username: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; roles are {', '.join(ROLES)}")

    @property
    def is_authenticated(self) -> bool:
        return self.role != "public"

    @property
    def own_province(self) -> str | None:
        """The province a provincial user sees in detail (None for other roles)."""
        return self.province if self.role == "provincial" and self.province else None


PUBLIC = Principal("public")


def can_see_province(principal: Principal, code: str | None) -> bool:
    """True when ``principal`` may see unsuppressed detail of the area ``code``.

    ``code`` is any admin code (TH50, TH5001, TH500101, TH50010101) or a province code taken
    from an area's ``province_code`` column (H3 cells).
    """
    if principal.role == "national":
        return True
    if principal.role == "provincial" and principal.province and isinstance(code, str):
        return code[:4] == principal.province
    return False


def needs_suppression(principal: Principal, code: str | None) -> bool:
    """Aggregates of ``code`` must pass disclosure control for this principal."""
    return not can_see_province(principal, code)


def require_detail(principal: Principal, code: str | None) -> Principal:
    """Raise 401 (anonymous) or 403 unless ``principal`` may see detail (household level)
    of the area ``code``."""
    from service.errors import Forbidden, Unauthorized

    if not principal.is_authenticated:
        raise Unauthorized("sign in to see household-level data / "
                           "ต้องเข้าสู่ระบบเพื่อดูข้อมูลระดับครัวเรือน")
    if not can_see_province(principal, code):
        raise Forbidden(f"your account may not see detail of {code} / "
                        f"บัญชีของคุณไม่มีสิทธิ์ดูข้อมูลละเอียดของ {code}")
    return principal


def visible_provinces(principal: Principal) -> set[str] | None:
    """Provinces whose detail ``principal`` may see: None = all, empty set = none."""
    if principal.role == "national":
        return None
    if principal.own_province:
        return {principal.own_province}
    return set()


def visibility_key(principal: Principal | None) -> str:
    """What a cache key must hold about the caller: ``public``, ``all`` or role:province."""
    if principal is None or not principal.is_authenticated:
        return "public"
    return "all" if principal.role == "national" else f"{principal.role}:{principal.province}"
