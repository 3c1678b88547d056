"""The one owner of the app's resources (datasette's pattern): settings, the one store, the
user store, the rate limiter, the map source and every cache. Created once by
:func:`service.create_app` (reached in requests by :func:`service.api.services.services`)
or by a command (``Services.create(settings_from_env())``); flask-free, so use cases take it.

Nothing else keeps state in ``app.extensions``. Tests get the object from the ``services``
fixture (tests/conftest.py) and give another map source with
``create_app(..., source=FrameSource(...))`` or :meth:`Services.use_source`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from service.access.views import new_view_cache
from service.lru import LRU, any_size
from service.settings import Settings, as_settings

if TYPE_CHECKING:
    from flask import Flask
    from flask_limiter import Limiter
    from jinja2 import Template

    from service.render.geometry import GeometryCache
    from service.render.sources import AreaSource
    from service.store.store import Store
    from service.store.users import UserStore

EXTENSION = "chipao"
#: cached JSON bodies (and their gzip), bounded in bytes
RESPONSE_CACHE_BYTES = 256 * 1024 * 1024
#: finished page views and area exports (service.api.page_cache.Entry), bounded in bytes
PAGE_CACHE_BYTES = 96 * 1024 * 1024
#: home page figures: (dataset, version, role, province): a few versions x 78 provinces
HOME_CACHE_ITEMS = 32
#: finished map values payloads (versions never change)
MAP_VALUES_CACHE_ITEMS = 64
#: finished ranking / selection page results
PAGE_RESULT_CACHE_ITEMS = 64


def _page_cache() -> LRU[Any]:
    return LRU(max_bytes=PAGE_CACHE_BYTES, sizeof=lambda entry: entry.nbytes)


@dataclass
class Services:
    settings: Settings
    store: Store
    users: UserStore
    source: AreaSource
    geometry: GeometryCache
    limiter: Limiter | None = None
    responses: LRU[tuple[bytes, bytes | None]] = field(
        default_factory=lambda: LRU(max_bytes=RESPONSE_CACHE_BYTES, sizeof=any_size))
    views: LRU[pd.DataFrame] = field(default_factory=new_view_cache)
    home: LRU[dict[str, Any]] = field(default_factory=lambda: LRU(max_items=HOME_CACHE_ITEMS))
    map_values: LRU[tuple[bytes, bytes]] = field(
        default_factory=lambda: LRU(max_items=MAP_VALUES_CACHE_ITEMS))
    #: finished workspace results (ranking with bootstrap, budget selection) per version,
    #: parameters and visibility (service.usecases.profile.cached)
    pages: LRU[Any] = field(default_factory=lambda: LRU(max_items=PAGE_RESULT_CACHE_ITEMS))
    #: finished page views and exports (service.api.page_cache), bounded in bytes
    page_views: LRU[Any] = field(default_factory=_page_cache)
    templates: dict[str, Template] = field(default_factory=dict)
    #: household follow-up store (service.followup.store.CaseStore), opened on first use
    followup: Any = None
    #: server-side sign-in sessions (service.store.sessions.SessionStore), opened on first use
    sessions: Any = None
    #: background upload/build jobs (service.jobs.JobRunner), started on first use
    jobs: Any = None
    #: small values computed once per app (navigation prefixes, the place search index)
    memo: dict[str, Any] = field(default_factory=dict)
    #: on-disk map artefacts of the store's versions (service.render.artefacts.Artefacts):
    #: public masks and first-open values payloads reused after a restart; None = off
    artefacts: Any = None

    @classmethod
    def create(cls, settings: Mapping[str, Any], *, source: AreaSource | None = None
               ) -> Services:
        """Open the store and the user store of ``settings`` (a partial mapping gets the
        defaults)."""
        from service.render.artefacts import Artefacts
        from service.render.geometry import GeometryCache
        from service.render.sources import StoreSource
        from service.store import open_store
        from service.store.users import UserStore

        typed = as_settings(settings)
        store = open_store(typed)
        artefacts = Artefacts(Path(typed.data_dir) / "cache" / "artefacts")
        return cls(settings=typed, store=store, users=UserStore(typed.database_url),
                   source=source if source is not None else StoreSource(store),
                   geometry=GeometryCache(Path(typed.data_dir) / "cache" / "maps"),
                   views=new_view_cache(artefacts=artefacts, store=store),
                   artefacts=artefacts)

    @property
    def min_households(self) -> int:
        return self.settings.min_cell_households

    def use_source(self, source: AreaSource) -> None:
        """Serve maps from another source (tests, benchmarks); clears the caches built
        from the previous one."""
        self.source = source
        self.map_values.clear()
        self.views.clear()
        self.page_views.clear()

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION] = self
