"""The app's :class:`~service.services.Services` (one per app, created by create_app)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from service.services import EXTENSION
from service.services import Services as Services

if TYPE_CHECKING:
    from flask import Flask


def services(app: Flask | None = None) -> Services:
    """The :class:`Services` of ``app`` (default: the current app)."""
    from flask import current_app

    target: Any = app if app is not None else current_app
    return target.extensions[EXTENSION]
