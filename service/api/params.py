"""Typed parameters of the pages' forms and query strings, parsed in one place.

Each parser takes the request's arguments as a plain mapping (``request.args``,
``request.form``) and returns plain values or a frozen dataclass; a bad value raises
:class:`service.errors.InvalidInput` naming the field (422, Thai and English), so the routes
stay "parse, call one use case, send" (docs/CONTRACT.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from service.errors import InvalidInput, NotFound

T = TypeVar("T")

def in_path(check: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """THE rule for a value taken from an ``/api/v1`` URL path (docs/CONTRACT.md §5, "Bad
    levels and codes"): the path names a resource, so a level, code or cell that is not one
    answers 404 (``check``'s :class:`InvalidInput` becomes :class:`NotFound`, same message).
    Query-string and form values, and the scope of a page (``/maps/area/<code>``), keep the
    422 of ``check`` naming the field."""
    try:
        return check(*args, **kwargs)
    except InvalidInput as exc:
        raise NotFound(str(exc)) from None


#: checkbox spellings of "on"
_ON = ("1", "on", "true")


def weights(args: Mapping[str, str]) -> dict[str, float]:
    """``w_<component>=<number>`` fields of the ranking form (blank = the default weight)."""
    out = {}
    for key, raw in args.items():
        if key.startswith("w_") and raw.strip():
            try:
                value = float(raw)
            except ValueError:
                raise InvalidInput(f"weight {key[2:]} must be a number / น้ำหนักต้องเป็นตัวเลข",
                                   column=key) from None
            if not 0 <= value <= 1000:
                raise InvalidInput(f"weight {key[2:]} must be between 0 and 1000 "
                                   "/ น้ำหนักต้องอยู่ระหว่าง 0 ถึง 1000", column=key)
            out[key[2:]] = value
    return out


def costs(args: Mapping[str, str]) -> dict[str, float]:
    """``cost_<ind>=<THB>`` fields of the selection form (blank = the default price)."""
    out = {}
    for key, raw in args.items():
        if key.startswith("cost_") and raw.strip():
            try:
                out[key[5:]] = float(raw.replace(",", ""))
            except ValueError:
                raise InvalidInput(f"cost of {key[5:]} must be a number "
                                   "/ ค่าใช้จ่ายต้องเป็นตัวเลข", column=key) from None
    return out


def budget(args: Mapping[str, str]) -> float | None:
    """``budget`` in baht (thousands separators allowed); None when blank."""
    raw = (args.get("budget") or "").replace(",", "")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput("budget must be a number of baht / งบประมาณต้องเป็นตัวเลข (บาท)",
                           column="budget") from None
    if not 0 <= value <= 1e13:
        raise InvalidInput("budget must be between 0 and 10,000,000,000,000 THB "
                           "/ งบประมาณอยู่นอกช่วง", column="budget")
    return value


def whole(args: Mapping[str, str], name: str, default: int, *, lo: int, hi: int,
          message: str) -> int:
    """A whole-number field in ``lo..hi`` (absent = ``default``); else 422 with ``message``."""
    text = args.get(name, str(default))
    if not text.isdigit() or not lo <= int(text) <= hi:
        raise InvalidInput(message, column=name)
    return int(text)


def dataset_name(args: Mapping[str, str]) -> str | None:
    """``dataset`` (None = the default dataset); 422 unless a valid dataset name."""
    from service.vocabulary import DATASET_NAME

    name = args.get("dataset") or None
    if name is not None and not DATASET_NAME.fullmatch(name):
        raise InvalidInput("ชื่อชุดข้อมูลไม่ถูกต้อง / invalid dataset name", column="dataset")
    return name


def cells_of(args: Mapping[str, str]) -> tuple[int, str | None]:
    """(``resolution`` 6-9, default 8; ``parent``: a cell one resolution coarser or None)
    of an H3 cell listing."""
    from service import vocabulary
    from service.vocabulary import H3_RESOLUTIONS

    raw = args.get("resolution", "8")
    if raw not in {str(r) for r in H3_RESOLUTIONS}:
        raise InvalidInput(f"resolution must be one of {', '.join(map(str, H3_RESOLUTIONS))} "
                           f"/ ความละเอียด H3 ต้องเป็น 6-9", column="resolution")
    res, parent = int(raw), args.get("parent") or None
    if parent:
        if res == H3_RESOLUTIONS[0]:
            raise InvalidInput("resolution 6 cells have no parent here "
                               "/ เซลล์ความละเอียด 6 ไม่มีเซลล์แม่", column="parent")
        vocabulary.check_code(f"h3_r{res - 1}", parent, column="parent")  # a query value: 422
    return res, parent


def blank_none(args: Mapping[str, str], name: str) -> str | None:
    """A text field; blank = None."""
    return args.get(name) or None


@dataclass(frozen=True)
class ListParams:
    """The target-list form: area, order, dimension and programme filters."""

    area: str
    order: str | None = None
    dimension: str | None = None
    programme: str | None = None

    @classmethod
    def parse(cls, args: Mapping[str, str], *, default_area: str) -> ListParams:
        from service.usecases.profile import admin_level

        area = args.get("area") or default_area
        admin_level(area)  # 422 for a malformed code before anything is read
        return cls(area, blank_none(args, "order"), blank_none(args, "dimension"),
                   blank_none(args, "programme"))

    @property
    def filters(self) -> str:
        """The filters as the About sheet of an export names them."""
        return ", ".join(f"{k}={v}" for k, v in (("order", self.order),
                                                 ("dimension", self.dimension),
                                                 ("programme", self.programme)) if v)


def selection_province(args: Mapping[str, str], *, default_area: str) -> str:
    """The province of the selection form (``TH`` = none chosen yet)."""
    return (args.get("province") or default_area)[:4]


@dataclass(frozen=True)
class SelectionParams:
    """The filled-in budget-selection form of a province."""

    province: str
    budget: float
    costs: dict[str, float]
    objective: str = "poor"
    per_amphoe: bool = False

    @classmethod
    def parse(cls, args: Mapping[str, str], *, province: str) -> SelectionParams | None:
        """None while the budget is blank (the form is not filled in yet)."""
        value = budget(args)
        if value is None:
            return None
        return cls(province, value, costs(args), args.get("objective", "poor"),
                   args.get("per_amphoe") in _ON)


def province(args: Mapping[str, str], default: str | None) -> str | None:
    """``province`` (a code such as TH58; absent = ``default``, blank = none)."""
    from service.usecases.profile import admin_level

    code = args.get("province")
    if code is None:
        code = default
    if code and admin_level(code) != "province":
        raise InvalidInput("province must be a code such as TH58 / รหัสจังหวัดไม่ถูกต้อง",
                           column="province")
    return code or None
