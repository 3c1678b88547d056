"""The follow-up vocabulary as data: case statuses and allowed transitions, plan actions,
agencies, missed-household reasons (``service/analysis/presets/followup/*.json``).

Nothing here is code a committee must change: a new action, agency or transition is a line
in the JSON files. :func:`load_workflow` and :func:`load_actions` check the files once.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from service.errors import InvalidInput

PRESETS = Path(__file__).resolve().parent.parent / "analysis" / "presets" / "followup"
HORIZONS: dict[str, tuple[str, str]] = {
    "urgent": ("เร่งด่วน", "urgent"),
    "medium": ("ระยะกลาง", "medium term"),
    "long": ("ระยะยาว", "long term"),
}


@dataclass(frozen=True)
class Status:
    id: str
    label_th: str
    label_en: str
    stage: int
    closed: bool
    resolved: bool = False

    @property
    def both(self) -> str:
        return f"{self.label_th} · {self.label_en}"


@dataclass(frozen=True)
class Workflow:
    initial: str
    statuses: dict[str, Status]
    transitions: dict[str, tuple[str, ...]]
    #: which households get a case (workflow.json ``case_rules``)
    excluded_programmes: tuple[str, ...] = ()
    include_mpi_poor: bool = True
    include_target_poor: bool = True

    @property
    def closed(self) -> tuple[str, ...]:
        return tuple(s for s, v in self.statuses.items() if v.closed)

    @property
    def resolved(self) -> tuple[str, ...]:
        return tuple(s for s, v in self.statuses.items() if v.resolved)

    def at_stage(self, stage: int) -> tuple[str, ...]:
        """Statuses at ``stage`` or beyond (moved/refused count as visited only)."""
        return tuple(s for s, v in self.statuses.items() if v.stage >= stage)

    def allowed(self, current: str) -> tuple[str, ...]:
        return self.transitions.get(current, ())

    def check(self, current: str, new: str) -> None:
        """Raise InvalidInput (422) unless ``current -> new`` is an allowed transition."""
        if new not in self.statuses:
            raise InvalidInput(f"ไม่รู้จักสถานะ {new!r} / unknown status {new!r}", column="status")
        if new not in self.allowed(current):
            a, b = self.statuses[current], self.statuses[new]
            ok = ", ".join(self.statuses[s].both for s in self.allowed(current)) or "–"
            raise InvalidInput(
                f"เปลี่ยนสถานะจาก “{a.label_th}” เป็น “{b.label_th}” ไม่ได้ / cannot move a case "
                f"from '{a.label_en}' to '{b.label_en}' (allowed / ที่ทำได้: {ok})",
                column="status")


@dataclass(frozen=True)
class Labelled:
    id: str
    label_th: str
    label_en: str
    aliases: tuple[str, ...] = ()

    @property
    def both(self) -> str:
        return f"{self.label_th} · {self.label_en}"


@dataclass(frozen=True)
class Action(Labelled):
    horizon: str = "urgent"
    agencies: tuple[str, ...] = ()
    programme: str | None = None
    indicators: tuple[str, ...] = ()


@dataclass(frozen=True)
class Actions:
    actions: dict[str, Action]
    agencies: dict[str, Labelled]
    missed_reasons: dict[str, Labelled]
    duplicate_window_days: int = 90
    _lookup: dict[str, dict[str, str]] = field(default_factory=dict, compare=False)

    def resolve(self, kind: str, text: str) -> str | None:
        """An id from an id, a Thai or English label or an alias (case and spaces ignored)."""
        return self._lookup[kind].get(_key(text))

    def for_indicators(self, indicators: list[str]) -> list[Action]:
        """Actions addressing any of ``indicators``, in catalogue order."""
        wanted = set(indicators)
        return [a for a in self.actions.values() if wanted & set(a.indicators)]

    def for_programme(self, programme: str) -> list[Action]:
        return [a for a in self.actions.values() if a.programme == programme]


def _key(text: str) -> str:
    return " ".join(str(text).split()).casefold()


@functools.cache
def load_workflow(path: str | None = None) -> Workflow:
    data = json.loads(Path(path or PRESETS / "workflow.json").read_text(encoding="utf-8"))
    statuses = {s["id"]: Status(s["id"], s["label_th"], s["label_en"], int(s["stage"]),
                                bool(s["closed"]), bool(s.get("resolved", False)))
                for s in data["statuses"]}
    transitions = {k: tuple(v) for k, v in data["transitions"].items()}
    for src, targets in transitions.items():
        unknown = {src, *targets} - set(statuses)
        if unknown:
            raise ValueError(f"workflow: unknown status(es) {sorted(unknown)}")
    if data["initial"] not in statuses:
        raise ValueError("workflow: unknown initial status")
    rules = data.get("case_rules", {})
    return Workflow(data["initial"], statuses, transitions,
                    tuple(rules.get("excluded_programmes", ())),
                    bool(rules.get("mpi_poor", True)), bool(rules.get("target_poor", True)))


@functools.cache
def load_actions(path: str | None = None) -> Actions:
    data = json.loads(Path(path or PRESETS / "actions.json").read_text(encoding="utf-8"))

    def labelled(d: dict) -> Labelled:
        return Labelled(d["id"], d["label_th"], d["label_en"], tuple(d.get("aliases", ())))

    agencies = {a["id"]: labelled(a) for a in data["agencies"]}
    actions = {}
    for a in data["actions"]:
        if a["horizon"] not in HORIZONS:
            raise ValueError(f"action {a['id']}: unknown horizon {a['horizon']!r}")
        unknown = set(a.get("agencies", ())) - set(agencies)
        if unknown:
            raise ValueError(f"action {a['id']}: unknown agencies {sorted(unknown)}")
        actions[a["id"]] = Action(a["id"], a["label_th"], a["label_en"],
                                  tuple(a.get("aliases", ())), a["horizon"],
                                  tuple(a.get("agencies", ())), a.get("programme"),
                                  tuple(a.get("indicators", ())))
    reasons = {r["id"]: labelled(r) for r in data["missed_reasons"]}
    lookup: dict[str, dict[str, str]] = {}
    for kind, items in (("action", actions), ("agency", agencies), ("reason", reasons)):
        table: dict[str, str] = {}
        for item in items.values():
            for name in (item.id, item.label_th, item.label_en, item.both, *item.aliases):
                table.setdefault(_key(name), item.id)
        lookup[kind] = table
    return Actions(actions, agencies, reasons, int(data.get("duplicate_window_days", 90)),
                   lookup)
