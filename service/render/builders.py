"""folium map builders: a folium.Map whose only head links are local, plus one element that
hands the page configuration to the browser-side styler (maps/static/chipao-map.js).

The choropleth is not built feature by feature in Python (folium.GeoJson with a
``style_function`` embeds every polygon and its style in the HTML: 100 MB and 5 s for the
national tambon map); the page instead names two URLs, geometry and values, and styles the
features in JavaScript on a canvas renderer.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import folium
from branca.element import Element, Figure, MacroElement
from jinja2 import Template
from markupsafe import escape

from service.render import assets

log = logging.getLogger(__name__)

ATTRIBUTION = (
    "Boundaries: OCHA / Royal Thai Survey Department (CC BY 3.0 IGO) · Chipao"
)


@dataclass
class MapPage:
    """Everything a map page needs; serialised into the page for chipao-map.js."""

    title_th: str
    title_en: str
    level: str
    geometry_url: str
    values_url: str
    bounds: list[list[float]]
    params: dict[str, Any]
    measures: list[dict]
    groups: list[dict]
    max_bounds: list[list[float]] | None = None
    rounds: list[dict] = field(default_factory=list)
    levels: list[dict] = field(default_factory=list)
    breadcrumbs: list[dict] = field(default_factory=list)
    drill: str | None = None
    outline_url: str | None = None
    outline_name: str = "ขอบเขต · Boundaries"
    layer_name: str = "ข้อมูล · Data"
    feature_label_th: str = "พื้นที่"
    feature_label_en: str = "Area"
    basemap: str | None = None
    basemap_attribution: str = ""
    min_households: int = 10
    embed: bool = False
    embed_code_url: str | None = None
    line_weight: float = 0.5
    attribution: str = ATTRIBUTION
    values_first: str | None = None
    k_choices: list[float] = field(default_factory=list)
    #: the viewer is signed in (a public click on a tambon hints that signing in shows villages)
    signed_in: bool = False
    #: published datasets: the dimension-combination selector (checkboxes -> tp_m<mask>)
    dimension_masks: dict[str, Any] | None = None
    #: follow-up help measures: the agency control (ids, Thai and English names)
    agencies: list[dict] = field(default_factory=list)
    agency_measures: list[str] = field(default_factory=list)

    def preloads(self) -> list[str]:
        """Data URLs the browser may start fetching before the scripts have run."""
        return [u for u in (self.geometry_url, self.values_first, self.outline_url) if u]

    def config(self) -> dict[str, Any]:
        return dict(self.__dict__.items())


class ChipaoLayer(MacroElement):
    """Loads chipao-map.js/css and calls ``chipaoMap(map, config)`` after the map exists."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            chipaoMap({{ this._parent.get_name() }}, {{ this.config_json }});
        {% endmacro %}
        """
    )

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        self._name = "ChipaoLayer"
        # json.dumps, then make it safe inside <script>: no "</script>", no HTML comments
        self.config_json = (
            json.dumps(config, ensure_ascii=False)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        )


def build_map(page: MapPage) -> folium.Map:
    """A folium.Map for ``page`` with every asset served locally."""
    south_west, north_east = page.bounds
    centre = [(south_west[0] + north_east[0]) / 2, (south_west[1] + north_east[1]) / 2]
    m = folium.Map(
        location=centre, zoom_start=6, tiles=None, prefer_canvas=True, control_scale=True,
        zoom_snap=0.25, min_zoom=4, max_zoom=16,
    )
    js, css = assets.offline_links()
    # instance attributes shadow folium's class-level CDN lists
    m.default_css = css + [("chipao_css", assets.url("maps", "chipao-map.css"))]
    m.default_js = js + [("chipao_js", assets.url("maps", "chipao-map.js"))]
    root = m.get_root()
    assert isinstance(root, Figure)
    root.title = str(escape(f"{page.title_th} · {page.title_en}"))
    root.header.add_child(Element('<meta charset="utf-8">'), name="charset", index=0)
    # no favicon request (it would 404 and log a console error)
    root.header.add_child(Element('<link rel="icon" href="data:,">'), name="favicon")
    for i, href in enumerate(page.preloads()):
        root.header.add_child(Element(
            f'<link rel="preload" as="fetch" crossorigin="anonymous" href="{escape(href)}">'),
            name=f"preload{i}")
    m.add_child(ChipaoLayer(page.config()))
    return m


def render_page(page: MapPage, chrome: str | None = None) -> str:
    """HTML of a map page; raises if it would load anything from another host.

    ``chrome``: HTML put above the map (the site navigation, maps/templates/_sitebar.html;
    chipao-map.css gives the map the rest of the window). Embeds have none."""
    m = build_map(page)
    if chrome and not page.embed:
        root = m.get_root()
        assert isinstance(root, Figure)
        root.html.add_child(Element(chrome), name="sitebar", index=0)
    html = m.get_root().render()
    html = html.replace("<html>", '<html lang="th">', 1)
    return assets.assert_offline(html)
