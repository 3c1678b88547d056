"""The copy-paste snippet of an embedded map (/embed-code): only validated parameters go
into it, and it is pinned to the round shown, so a portal page keeps saying what it said.
Embedded maps are public aggregates and never show villages. No Flask here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from service.errors import InvalidInput
from service.render.map_page import JS_QUERY_ORDER
from service.usecases import map_values

if TYPE_CHECKING:
    from service.services import Services

TITLE = "แผนที่ความยากจน ชี้เป้า · Chipao poverty map"


@dataclass(frozen=True)
class EmbedCode:
    snippet: str
    embed_url: str
    title: str
    back_url: str
    round_label: str


def embed_code(s: Services, params: Any, scope: str | None, level: str, *,
               host_url: str) -> EmbedCode:
    """The iframe snippet of the map ``params`` of ``scope`` at ``level`` (already checked
    by :func:`service.usecases.map_values.check_level`), served from ``host_url``."""
    if level == "village":
        raise InvalidInput("village maps are never embedded / ไม่เผยแพร่แผนที่ระดับหมู่บ้าน",
                           column="level")
    query = params.query(default_dataset=s.settings.default_dataset)
    version, _, rounds = map_values.resolve_round(s, params)
    if version:
        query["round"] = version
    round_label = next((r.label for r in rounds if r.id == version), version or "")
    pairs = [("level", level)] + [(k, query[k]) for k in JS_QUERY_ORDER if k in query]
    path = f"/embed/area/{scope}" if scope else "/embed/"
    embed_url = f"{path}?{urlencode(pairs)}"
    absolute = host_url.rstrip("/") + embed_url
    snippet = (f'<iframe src="{absolute}" width="100%" height="480" style="border:0" '
               f'title="{TITLE}" loading="lazy"></iframe>')
    back = (f"/maps/area/{scope}" if scope else "/maps/") + f"?{urlencode(pairs)}"
    return EmbedCode(snippet, embed_url, TITLE, back, round_label)
