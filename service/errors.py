"""Domain exceptions and the ONE table mapping them to HTTP status codes."""

from __future__ import annotations


class ChipaoError(Exception):
    """Base of every expected, user-facing error. ``extra`` holds further members of the
    problem+json body (e.g. an ingest ``report``), never personal data."""

    title = "Error"
    extra: dict | None = None

    def with_extra(self, **members: object) -> ChipaoError:
        self.extra = {**(self.extra or {}), **members}
        return self


class InvalidInput(ChipaoError):
    """Bad user input: file, row and column are named in the message when known."""

    title = "Invalid input"

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


class NotFound(ChipaoError):
    title = "Not found"


class Forbidden(ChipaoError):
    title = "Forbidden"


class Unauthorized(ChipaoError):
    title = "Authentication required"


class Conflict(ChipaoError):
    title = "Conflict"


class PayloadTooLarge(ChipaoError):
    title = "Payload too large"


class UnsupportedMedia(ChipaoError):
    title = "Unsupported media type"


#: exception class -> HTTP status. Looked up along the MRO, so subclasses inherit.
STATUS_CODES: dict[type[Exception], int] = {
    InvalidSpec: 422,
    InvalidInput: 422,
    NotFound: 404,
    Forbidden: 403,
    Unauthorized: 401,
    Conflict: 409,
    PayloadTooLarge: 413,
    UnsupportedMedia: 415,
    ChipaoError: 400,
}


def status_for(exc: BaseException) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500
