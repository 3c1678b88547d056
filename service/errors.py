"""Domain exceptions and the ONE table mapping them to HTTP status codes."""

from __future__ import annotations


class ChipaoError(Exception):
    """Base of every expected, user-facing error. ``extra`` holds further members of the
    problem+json body (e.g. an ingest ``report``), never personal data."""

    title = "Error"
    title_th = "ข้อผิดพลาด"
    extra: dict | None = None

    def with_extra(self, **members: object) -> ChipaoError:
        self.extra = {**(self.extra or {}), **members}
        return self


class InvalidInput(ChipaoError):
    """Bad user input: file, row and column are named in the message when known."""

    title = "Invalid input"
    title_th = "ข้อมูลไม่ถูกต้อง"

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None) -> None:
        self.file, self.row, self.column = file, row, column
        where = ", ".join(
            p for p in (
                f"file {file}" if file else "",
                f"row {row}" if row is not None else "",
                f"column {column}" if column else "",
            ) if p
        )
        super().__init__(f"{where}: {message}" if where else message)


class InvalidSpec(InvalidInput):
    title = "Invalid indicator specification"
    title_th = "นิยามตัวชี้วัดไม่ถูกต้อง"


class NotFound(ChipaoError):
    title = "Not found"
    title_th = "ไม่พบข้อมูล"


class Forbidden(ChipaoError):
    title = "Forbidden"
    title_th = "ไม่มีสิทธิ์"


class Unauthorized(ChipaoError):
    title = "Authentication required"
    title_th = "ต้องเข้าสู่ระบบ"


class Conflict(ChipaoError):
    title = "Conflict"
    title_th = "ข้อมูลขัดแย้งกัน"


class StorageUnavailable(ChipaoError):
    """The object storage of dataset versions cannot be reached or refuses the request
    (endpoint, bucket or credentials): an operator's setting, not the caller's input."""

    title = "Storage unavailable"
    title_th = "ใช้ที่เก็บข้อมูลไม่ได้"


class PayloadTooLarge(ChipaoError):
    title = "Payload too large"
    title_th = "ข้อมูลใหญ่เกินกำหนด"


class UnsupportedMedia(ChipaoError):
    title = "Unsupported media type"
    title_th = "ไม่รองรับชนิดไฟล์นี้"


#: exception class -> HTTP status. Looked up along the MRO, so subclasses inherit.
STATUS_CODES: dict[type[Exception], int] = {
    InvalidSpec: 422,
    InvalidInput: 422,
    NotFound: 404,
    Forbidden: 403,
    Unauthorized: 401,
    Conflict: 409,
    StorageUnavailable: 503,
    PayloadTooLarge: 413,
    UnsupportedMedia: 415,
    ChipaoError: 400,
}


#: exit status of a command ended by a domain error (cli.LazyGroup); 2 is click's usage error
EXIT_STATUS = 1


def headline(exc: ChipaoError) -> str:
    """The error as a person reads it in a terminal: ``ข้อมูลไม่ถูกต้อง · Invalid input: …``
    (the message itself names file, row and column in Thai and English)."""
    return f"{exc.title_th} · {exc.title}: {exc}"


def problem_body(status: int, title: str, detail: str, extra: dict | None = None) -> dict:
    """THE problem document (RFC 9457: ``type``, ``title``, ``status``, ``detail`` and
    extra members such as an import ``report``) of every error answer."""
    return {"type": "about:blank", "title": title, "status": status, "detail": detail,
            **(extra or {})}


def status_for(exc: BaseException) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500
