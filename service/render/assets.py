"""Offline assets: every script, style sheet, image and font a map page loads comes from an
installed package and is served by this server (service.api.assets), never from a CDN.

* Leaflet 1.9 from ``xstatic-leaflet`` (BSD-2-Clause);
* the Sarabun Thai font from ``fontpkg-sarabun`` (SIL OFL 1.1; its LICENSE is served too);
* Chipao's own map script and styles from ``maps/static``.

folium's default head links (leaflet, jquery, bootstrap, awesome-markers, font-awesome on
jsdelivr/cdnjs) are replaced by :func:`offline_links`; :func:`assert_offline` refuses any
rendered page that still names another host.
"""

from __future__ import annotations

import re
from pathlib import Path

from service.render.catalogue import MAPS_DIR

PREFIX = "/assets"
#: suffixes the asset route serves (anything else is 404 even if the file exists)
SUFFIXES = {
    ".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml",
    ".ttf": "font/ttf", ".woff2": "font/woff2", ".map": "application/json", "": "text/plain",
    ".txt": "text/plain",
}
FONT_FILES = ("Sarabun-Regular.ttf", "Sarabun-Bold.ttf", "LICENSE")


def _leaflet_dir() -> Path:
    from xstatic.pkg import leaflet

    return Path(leaflet.BASE_DIR)


def _font_dir() -> Path:
    import fontpkg_sarabun

    return Path(fontpkg_sarabun.ROOT)


def package_dirs() -> dict[str, Path]:
    return {"leaflet": _leaflet_dir(), "fonts": _font_dir(), "maps": MAPS_DIR / "static"}


def resolve(package: str, relpath: str) -> Path | None:
    """File of an asset, or None: unknown package, traversal, hidden file, other suffix."""
    dirs = package_dirs()
    base = dirs.get(package)
    if base is None or not relpath or relpath.startswith("/") or "\\" in relpath:
        return None
    parts = relpath.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return None
    if package == "fonts":
        if relpath not in FONT_FILES:
            return None
        path = base / ("LICENSE" if relpath == "LICENSE" else f"files/{relpath}")
    else:
        path = base / relpath
    if Path(relpath).suffix not in SUFFIXES:
        return None
    try:
        path = path.resolve()
        path.relative_to(base.resolve())
    except (OSError, ValueError):
        return None
    return path if path.is_file() else None


def mimetype_of(path: Path) -> str:
    return SUFFIXES.get(path.suffix, "application/octet-stream")


def asset_version() -> str:
    """Changes with the installed Leaflet/Chipao files, for cache-busting query strings."""
    from xstatic.pkg import leaflet

    from service import __version__

    mtimes = [int(p.stat().st_mtime) for p in (MAPS_DIR / "static").glob("*") if p.is_file()]
    return f"{__version__}.{leaflet.VERSION}.{max(mtimes, default=0)}"


def url(package: str, relpath: str) -> str:
    return f"{PREFIX}/{package}/{relpath}?v={asset_version()}"


def offline_links() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(js, css) lists for folium's ``default_js``/``default_css``: local Leaflet only."""
    js = [("leaflet", url("leaflet", "leaflet.js"))]
    css = [("leaflet_css", url("leaflet", "leaflet.css"))]
    return js, css


_EXTERNAL = re.compile(
    r"""(?:src|href)\s*=\s*["']\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import\s+["']?(?:https?:)?//""",
    re.IGNORECASE,
)


class ExternalResourceError(RuntimeError):
    pass


def assert_offline(html: str) -> str:
    """Return ``html`` unchanged, or raise if it loads anything from another host."""
    match = _EXTERNAL.search(html)
    if match:
        start = max(0, match.start() - 60)
        raise ExternalResourceError(
            f"map page would load an external resource: ...{html[start:match.end() + 80]}..."
        )
    return html
