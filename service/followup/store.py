"""CaseStore: follow-up cases, plans, assistance and missed households in the catalog DB.

Every write is one transaction. Callers (service.usecases.cases) check who may see which
province; this class takes ``provinces`` (None = all) where it lists, and an
:class:`Actor` (username, role) where it writes, for the history rows. Nothing here logs a
household id or a note.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd
import polars as pl
import sqlalchemy as sa

from service.errors import Conflict, InvalidInput, NotFound
from service.followup import models as m
from service.followup.catalogue import HORIZONS, Actions, Workflow, load_actions, load_workflow
from service.followup.notes import NOTE_REASONS, note_problem
from service.lru import LRU

log = logging.getLogger(__name__)

#: rows per INSERT statement in bulk writes
_BATCH = 5_000
#: area levels of progress measures -> case column
AREA_COLUMNS = {"province": "province_code", "amphoe": "amphoe_code",
                "tambon": "tambon_code", "village": "village_id"}


class Actor(Protocol):
    @property
    def username(self) -> str | None: ...

    @property
    def role(self) -> str: ...


@dataclass(frozen=True)
class Filters:
    """What a case list asks for (all optional)."""

    area: str | None = None            # province, amphoe, tambon or village code
    status: tuple[str, ...] = ()
    source: str | None = None          # survey | missed
    overdue: bool = False
    helped: bool | None = None


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def check_note(note: str | None, *, column: str = "note") -> str:
    """A note without personal data, stripped; raises InvalidInput (422) otherwise."""
    note = " ".join((note or "").split())
    code = note_problem(note)
    if code:
        th, en = NOTE_REASONS[code]
        raise InvalidInput(f"{th} / {en}", column=column)
    return note


def parse_date(value: Any, *, column: str) -> dt.date:
    """ISO ``2026-12-01``, Thai ``1/12/2569`` (Buddhist era) or ``1/12/2026``."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value or "").strip()
    parsed = parse_dates(pl.Series([text]))[0]
    if parsed is None:
        raise InvalidInput(f"วันที่ไม่ถูกต้อง {text!r} (ใช้ 2026-12-01 หรือ 1/12/2569) / invalid "
                           f"date {text!r} (use 2026-12-01 or 1/12/2569)", column=column)
    return parsed


def parse_dates(s: pl.Series) -> pl.Series:
    """Vectorised date parsing: ISO, d/m/yyyy (BE years > 2400 minus 543), Excel serials."""
    s = s.cast(pl.String).str.strip_chars()
    iso = s.str.extract_groups(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?$")
    dmy = s.str.extract_groups(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
    frame = pl.DataFrame({
        "y": iso.struct.field("1").fill_null(dmy.struct.field("3")).cast(pl.Int32,
                                                                         strict=False),
        "m": iso.struct.field("2").fill_null(dmy.struct.field("2")).cast(pl.Int32,
                                                                         strict=False),
        "d": iso.struct.field("3").fill_null(dmy.struct.field("1")).cast(pl.Int32,
                                                                         strict=False),
        "serial": s.cast(pl.Float64, strict=False),
    })
    y = pl.when(pl.col("y") > 2400).then(pl.col("y") - 543).otherwise(pl.col("y"))
    ok = (y.is_between(1990, 2100) & pl.col("m").is_between(1, 12)
          & pl.col("d").is_between(1, 31))
    text_date = pl.when(ok).then(pl.date(y, pl.col("m"), pl.col("d")))
    # an invalid day of month (31 April) gives null rather than an error
    serial = pl.col("serial")
    excel = pl.when(serial.is_between(32874, 73051) & (serial == serial.floor())).then(
        pl.lit(dt.date(1899, 12, 30)) + pl.duration(days=serial.cast(pl.Int64)))
    try:
        out = frame.select(pl.coalesce(text_date, excel).alias("date")).to_series()
    except pl.exceptions.ComputeError:
        out = pl.Series([_safe_date(*r) for r in frame.iter_rows()], dtype=pl.Date)
    return out


def _safe_date(y: int | None, mth: int | None, d: int | None, serial: float | None
               ) -> dt.date | None:
    if y is not None and mth is not None and d is not None:
        y = y - 543 if y > 2400 else y
        try:
            return dt.date(y, mth, d) if 1990 <= y <= 2100 else None
        except ValueError:
            return None
    if serial is not None and 32874 <= serial <= 73051 and serial == int(serial):
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(serial))
    return None


MAX_ID = 2**31 - 1


def _cid(value: Any, what: str = "case") -> int:
    """A row id as an int; ids outside 1..2^31-1 cannot exist (404, never a DB error)."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if not 1 <= n <= MAX_ID:
        raise NotFound(f"ไม่พบ {what} {value} / no {what} {value}")
    return n


class CaseStore:
    """Cases and everything attached to them (see :mod:`service.followup.models`)."""

    def __init__(self, database_url: str, *, engine: sa.Engine | None = None,
                 workflow: Workflow | None = None, actions: Actions | None = None) -> None:
        if engine is None:
            from service.store import db

            engine = db.engine(database_url)
        self.engine = engine
        self.workflow = workflow or load_workflow()
        self.actions = actions or load_actions()
        #: public progress tables, keyed by :meth:`generation` (service.usecases.cases)
        self.public_cache: LRU[pd.DataFrame] = LRU(max_items=8)

    # -- cases from a round ------------------------------------------------------------------
    def synced(self, dataset: str, version_id: str, province: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(m.syncs.c.n_cases).where(
                m.syncs.c.dataset == dataset, m.syncs.c.version_id == version_id,
                m.syncs.c.province_code == province)).first() is not None

    def sync_cases(self, dataset: str, *, version_id: str, round: int, province: str,
                   households: pl.DataFrame, surveyed: pl.Series | None = None) -> int:
        """Open a case (``not_visited``) for every target household of ``province`` in this
        version that has none in this round yet; match missed households registered in an
        earlier round against ``surveyed`` (every household id of the version; default: the
        target households). Idempotent. Returns the number of new cases."""
        hh = households.filter(pl.col("province_code") == province)
        at = now()
        with self.engine.begin() as conn:
            existing = set(conn.execute(sa.select(m.cases.c.hh_id).where(
                m.cases.c.dataset == dataset, m.cases.c.round == int(round),
                m.cases.c.province_code == province)).scalars())
            new = hh.filter(~pl.col("hh_id").is_in(list(existing)))
            rows = [{
                "dataset": dataset, "round": int(round), "version_id": version_id,
                "hh_id": r["hh_id"], "source": "survey", "province_code": province,
                "amphoe_code": r["amphoe_code"], "tambon_code": r["tambon_code"],
                "village_id": r["village_id"], "mpi_poor": bool(r["mpi_poor"]),
                "target_poor": bool(r["target_poor"]), "excluded": r["excluded"] or "",
                "failing": r["failing"] or "", "n_members": int(r["n_members"]),
                "household_type": r["household_type"], "max_c": r["max_c"],
                "status": self.workflow.initial, "status_at": at, "created_at": at,
            } for r in new.iter_rows(named=True)]
            for i in range(0, len(rows), _BATCH):
                conn.execute(m.cases.insert(), rows[i:i + _BATCH])
            self._match_missed(conn, dataset, int(round), province,
                               hh["hh_id"] if surveyed is None else surveyed, at)
            conn.execute(m.syncs.delete().where(
                m.syncs.c.dataset == dataset, m.syncs.c.version_id == version_id,
                m.syncs.c.province_code == province))
            conn.execute(m.syncs.insert().values(dataset=dataset, version_id=version_id,
                                                 province_code=province, at=at,
                                                 n_cases=len(rows) + len(existing)))
        log.info("follow-up %s %s: %d new cases", dataset, province, len(rows))
        return len(rows)

    def _match_missed(self, conn: sa.Connection, dataset: str, round: int, province: str,
                      hh_ids: pl.Series, at: dt.datetime) -> None:
        # a missed household entered with its house number (pseudonymised) is found again
        # when a later round surveys it: the survey's hh_id is the same keyed pseudonym
        open_missed = conn.execute(sa.select(m.missed.c.id, m.missed.c.house_key).where(
            m.missed.c.dataset == dataset, m.missed.c.province_code == province,
            m.missed.c.round < round, m.missed.c.matched_round.is_(None),
            m.missed.c.house_key.is_not(None))).all()
        if not open_missed:
            return
        present = set(hh_ids.to_list())
        for mid, key in open_missed:
            if key in present:
                conn.execute(m.missed.update().where(m.missed.c.id == mid).values(
                    matched_round=round, matched_hh_id=key, matched_at=at))

    # -- reading -----------------------------------------------------------------------------
    def _where(self, dataset: str, round: int | None, provinces: set[str] | None,
               f: Filters, today: dt.date) -> list[Any]:
        c = m.cases.c
        cond: list[Any] = [c.dataset == dataset]
        if round is not None:
            cond.append(c.round == int(round))
        if provinces is not None:
            cond.append(c.province_code.in_(sorted(provinces)) if provinces else sa.false())
        if f.area:
            col = {4: c.province_code, 6: c.amphoe_code, 8: c.tambon_code,
                   10: c.village_id}.get(len(f.area))
            if col is None:
                raise InvalidInput(f"รหัสพื้นที่ไม่ถูกต้อง {f.area!r} / bad area code {f.area!r}",
                                   column="area")
            cond.append(col == f.area)
        if f.status:
            cond.append(c.status.in_(list(f.status)))
        if f.source:
            cond.append(c.source == f.source)
        if f.overdue:
            cond.append(self._overdue(today))
        if f.helped is not None:
            cond.append(self._helped() if f.helped else ~self._helped())
        return cond

    def _helped(self) -> Any:
        return sa.exists().where(m.assistance.c.case_id == m.cases.c.id)

    def _has_plan(self) -> Any:
        return sa.exists().where(m.plan.c.case_id == m.cases.c.id, ~m.plan.c.cancelled)

    def _overdue(self, today: dt.date) -> Any:
        """Open case with a plan item past its due date and no help of that action yet."""
        p, a = m.plan.c, m.assistance.c
        done = sa.exists().where(a.case_id == p.case_id, a.action == p.action)
        late = sa.exists().where(p.case_id == m.cases.c.id, ~p.cancelled,
                                 p.due_date < today, ~done)
        return sa.and_(m.cases.c.status.not_in(list(self.workflow.closed)), late)

    def list_cases(self, dataset: str, round: int | None, *, provinces: set[str] | None,
                   filters: Filters = Filters(), offset: int = 0, limit: int = 50,
                   today: dt.date | None = None) -> tuple[list[dict[str, Any]], int]:
        """One page of cases (ordered by area, then id) and the number matching."""
        today = today or dt.date.today()
        cond = self._where(dataset, round, provinces, filters, today)
        c = m.cases.c
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(m.cases)
                                 .where(*cond)).scalar_one()
            q = (sa.select(m.cases, self._helped().label("helped"),
                           self._has_plan().label("has_plan"),
                           self._overdue(today).label("overdue"))
                 .where(*cond)
                 .order_by(c.amphoe_code, c.tambon_code, c.village_id, c.id)
                 .offset(max(int(offset), 0)).limit(max(1, min(int(limit), 500))))
            rows = [self._case_dict(r) for r in conn.execute(q)]
        return rows, int(total)

    def _case_dict(self, r: Any) -> dict[str, Any]:
        d = dict(r._mapping)
        for k in ("status_at", "created_at"):
            d[k] = _aware(d.get(k))
        for k in ("helped", "has_plan", "overdue"):
            if k in d:
                d[k] = bool(d[k])
        st = self.workflow.statuses.get(d["status"])
        d["status_th"], d["status_en"] = (st.label_th, st.label_en) if st else (d["status"],) * 2
        d["failing_list"] = [x for x in (d.get("failing") or "").split(",") if x]
        d["excluded_list"] = [x for x in (d.get("excluded") or "").split(",") if x]
        return d

    def amphoes(self, dataset: str, round: int, province: str) -> list[str]:
        """Amphoe codes holding cases of a province (the list page's filter)."""
        c = m.cases.c
        with self.engine.connect() as conn:
            return [a for a in conn.execute(sa.select(c.amphoe_code).distinct().where(
                c.dataset == dataset, c.round == int(round), c.province_code == province)
                .order_by(c.amphoe_code)).scalars() if a]

    def status_counts(self, dataset: str, round: int, province: str) -> dict[str, int]:
        c = m.cases.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(c.status, sa.func.count()).where(
                c.dataset == dataset, c.round == int(round), c.province_code == province)
                .group_by(c.status)).all()
        return {s: int(n) for s, n in rows}

    def case(self, case_id: int) -> dict[str, Any]:
        """A case with its plan, history and assistance."""
        case_id = _cid(case_id)
        c = m.cases.c
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(m.cases, self._helped().label("helped"),
                                         self._has_plan().label("has_plan"),
                                         self._overdue(dt.date.today()).label("overdue"))
                               .where(c.id == int(case_id))).first()
            if row is None:
                raise NotFound(f"ไม่พบกรณี {case_id} / no case {case_id}")
            case = self._case_dict(row)
            case["plan"] = [dict(r._mapping) for r in conn.execute(
                sa.select(m.plan).where(m.plan.c.case_id == case_id)
                .order_by(m.plan.c.id))]
            case["history"] = [dict(r._mapping) for r in conn.execute(
                sa.select(m.history).where(m.history.c.case_id == case_id)
                .order_by(m.history.c.id))]
            case["assistance"] = [dict(r._mapping) for r in conn.execute(
                sa.select(m.assistance).where(m.assistance.c.case_id == case_id)
                .order_by(m.assistance.c.given_on, m.assistance.c.id))]
            case["missed"] = None
            if case["source"] == "missed":
                mr = conn.execute(sa.select(m.missed).where(m.missed.c.case_id == case_id)
                                  ).first()
                case["missed"] = dict(mr._mapping) if mr is not None else None
        for h in case["history"]:
            h["at"] = _aware(h["at"])
        done = {a["action"] for a in case["assistance"]}
        for p in case["plan"]:
            p["done"] = p["action"] in done
        return case

    def case_province(self, case_id: int) -> str:
        case_id = _cid(case_id)
        with self.engine.connect() as conn:
            prov = conn.execute(sa.select(m.cases.c.province_code)
                                .where(m.cases.c.id == int(case_id))).scalar_one_or_none()
        if prov is None:
            raise NotFound(f"ไม่พบกรณี {case_id} / no case {case_id}")
        return str(prov)

    def cases_by_hh(self, dataset: str, hh_ids: Iterable[str]) -> pl.DataFrame:
        """Latest-round case per household id: ``hh_id, case_id, province_code, amphoe_code,
        tambon_code``."""
        ids = sorted(set(hh_ids))
        out: list[tuple[Any, ...]] = []
        c = m.cases.c
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 900):  # SQLite bound-parameter limit
                out += conn.execute(sa.select(c.hh_id, c.id, c.province_code, c.amphoe_code,
                                              c.tambon_code, c.round).where(
                    c.dataset == dataset, c.hh_id.in_(ids[i:i + 900]))).all()
        frame = pl.DataFrame(out, schema={"hh_id": pl.String, "case_id": pl.Int64,
                                          "province_code": pl.String,
                                          "amphoe_code": pl.String,
                                          "tambon_code": pl.String, "round": pl.Int64},
                             orient="row")
        return (frame.sort(["hh_id", "round"]).group_by("hh_id", maintain_order=True).last()
                .drop("round"))

    # -- status --------------------------------------------------------------------------------
    def change_status(self, case_id: int, new: str, *, actor: Actor, note: str = "",
                      expected: str | None = None) -> dict[str, Any]:
        """Move a case along the workflow and append the history row (one transaction).

        ``expected`` = the status the person saw: when someone else changed the case in
        between, the change is refused (409) instead of silently overwriting theirs."""
        note = check_note(note)
        case_id = _cid(case_id)
        at = now()
        with self.engine.begin() as conn:
            current = conn.execute(sa.select(m.cases.c.status).where(
                m.cases.c.id == int(case_id))).scalar_one_or_none()
            if current is None:
                raise NotFound(f"ไม่พบกรณี {case_id} / no case {case_id}")
            if expected is not None and expected != current:
                raise Conflict("สถานะถูกเปลี่ยนโดยผู้อื่นแล้ว กรุณาโหลดหน้าใหม่ / the status was "
                               "changed by someone else meanwhile: reload the page")
            self.workflow.check(current, new)
            n = conn.execute(m.cases.update().where(
                m.cases.c.id == int(case_id), m.cases.c.status == current
            ).values(status=new, status_at=at)).rowcount
            if n != 1:
                raise Conflict("สถานะถูกเปลี่ยนโดยผู้อื่นแล้ว / changed by someone else meanwhile")
            conn.execute(m.history.insert().values(
                case_id=int(case_id), at=at, username=actor.username, role=actor.role,
                from_status=current, to_status=new, note=note))
        return {"case_id": int(case_id), "from": current, "to": new, "at": at}

    # -- plan ------------------------------------------------------------------------------------
    def _check_action(self, action: str, agency: str, horizon: str | None) -> tuple[str, str,
                                                                                     str]:
        act = self.actions.resolve("action", action or "")
        if act is None:
            raise InvalidInput(f"ไม่รู้จักกิจกรรม {action!r} / unknown action {action!r}",
                               column="action")
        ag = self.actions.resolve("agency", agency or "")
        if ag is None:
            raise InvalidInput(f"ไม่รู้จักหน่วยงาน {agency!r} / unknown agency {agency!r}",
                               column="agency")
        hz = horizon or self.actions.actions[act].horizon
        if hz not in HORIZONS:
            raise InvalidInput(f"ระยะของแผนต้องเป็น urgent/medium/long ไม่ใช่ {hz!r} / horizon "
                               f"must be urgent, medium or long, not {hz!r}", column="horizon")
        return act, ag, hz

    def add_plan_item(self, case_id: int, *, action: str, agency: str, actor: Actor,
                      horizon: str | None = None, due_date: Any = None,
                      indicator: str | None = None, note: str = "") -> int:
        act, ag, hz = self._check_action(action, agency, horizon)
        due = parse_date(due_date, column="due_date") if due_date not in (None, "") else None
        note = check_note(note)
        self.case_province(case_id)
        with self.engine.begin() as conn:
            key = conn.execute(m.plan.insert().values(
                case_id=int(case_id), horizon=hz, action=act, agency=ag, due_date=due,
                indicator=(indicator or None), note=note, cancelled=False, created_at=now(),
                created_by=actor.username)).inserted_primary_key
        return int(key[0]) if key is not None else 0

    def cancel_plan_item(self, case_id: int, item_id: int) -> None:
        case_id, item_id = _cid(case_id), _cid(item_id, "plan item")
        with self.engine.begin() as conn:
            n = conn.execute(m.plan.update().where(
                m.plan.c.id == int(item_id), m.plan.c.case_id == int(case_id)
            ).values(cancelled=True)).rowcount
        if not n:
            raise NotFound(f"ไม่พบรายการแผน {item_id} / no plan item {item_id}")

    def suggested_plan(self, case: dict[str, Any]) -> list[dict[str, Any]]:
        """Catalogue actions for the household's failing indicators and missed programmes
        (the plan form's pre-filled rows)."""
        out, seen = [], set()
        for ind in case["failing_list"]:
            for a in self.actions.for_indicators([ind]):
                if a.id not in seen:
                    seen.add(a.id)
                    out.append({"indicator": ind, "action": a, "agency": a.agencies[0]
                                if a.agencies else ""})
        for prog in case["excluded_list"]:
            for a in self.actions.for_programme(prog):
                if a.id not in seen:
                    seen.add(a.id)
                    out.append({"indicator": None, "programme": prog, "action": a,
                                "agency": a.agencies[0] if a.agencies else ""})
        order = {h: i for i, h in enumerate(HORIZONS)}
        return sorted(out, key=lambda x: order[x["action"].horizon])

    # -- assistance -----------------------------------------------------------------------------
    def add_assistance(self, case_id: int, *, given_on: Any, agency: str, action: str,
                       actor: Actor, amount_thb: Any = 0, horizon: str | None = None,
                       note: str = "", window_days: int | None = None) -> dict[str, Any]:
        """One help record from the web form; returns it with ``duplicate_of`` set when it
        looks like help another agency already gave (flagged, still recorded)."""
        act, ag, hz = self._check_action(action, agency, horizon)
        day = parse_date(given_on, column="given_on")
        amount = _amount(amount_thb)
        note = check_note(note)
        case_id = _cid(case_id)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(m.cases).where(m.cases.c.id == int(case_id))).first()
        if row is None:
            raise NotFound(f"ไม่พบกรณี {case_id} / no case {case_id}")
        frame = pl.DataFrame({
            "case_id": [int(case_id)], "hh_id": [row.hh_id], "province_code": [row.province_code],
            "amphoe_code": [row.amphoe_code], "tambon_code": [row.tambon_code],
            "given_on": [day], "agency": [ag], "action": [act], "horizon": [hz],
            "amount_thb": [amount], "note": [note], "source_row": [None]},
            schema_overrides={"source_row": pl.Int64})
        ids = self.insert_assistance(row.dataset, frame, actor=actor, window_days=window_days)
        return {"id": ids["id"][0], "duplicate_of": ids["duplicate_of"][0]}

    def insert_assistance(self, dataset: str, frame: pl.DataFrame, *, actor: Actor,
                          import_meta: dict[str, Any] | None = None,
                          window_days: int | None = None,
                          conn: sa.Connection | None = None) -> pl.DataFrame:
        """Insert validated records (columns of :data:`ASSIST_COLUMNS`) in one transaction,
        with the import row when ``import_meta`` is given. Returns ``id, duplicate_of``."""
        if conn is None:
            with self.engine.begin() as c:
                return self.insert_assistance(dataset, frame, actor=actor,
                                              import_meta=import_meta,
                                              window_days=window_days, conn=c)
        window = self.actions.duplicate_window_days if window_days is None else window_days
        at = now()
        import_id = None
        if import_meta is not None:
            try:
                key = conn.execute(m.imports.insert().values(
                    dataset=dataset, created_at=at, created_by=actor.username,
                    **import_meta)).inserted_primary_key
            except sa.exc.IntegrityError as exc:
                raise Conflict("ไฟล์นี้เคยนำเข้าแล้ว / this file was imported already") from exc
            import_id = int(key[0]) if key is not None else None
        ref, pos = self._duplicates(conn, dataset, frame, window)
        frame = frame.with_columns(duplicate_of=ref)
        first = conn.execute(sa.select(sa.func.coalesce(sa.func.max(m.assistance.c.id), 0))
                             ).scalar_one()
        rows = [{**r, "dataset": dataset, "created_at": at, "created_by": actor.username,
                 "import_id": import_id}
                for r in frame.select(ASSIST_COLUMNS + ["duplicate_of"]).iter_rows(named=True)]
        for i in range(0, len(rows), _BATCH):
            conn.execute(m.assistance.insert(), rows[i:i + _BATCH])
        new_ids = list(conn.execute(sa.select(m.assistance.c.id).where(
            m.assistance.c.id > first, m.assistance.c.created_at == at,
            m.assistance.c.dataset == dataset).order_by(m.assistance.c.id)).scalars())
        if len(new_ids) != len(rows):
            raise RuntimeError("assistance insert: unexpected number of new rows")
        # an earlier row of this batch: its id is known only now
        fix = [{"_id": new_ids[i], "_ref": new_ids[j]}
               for i, j in enumerate(pos.to_list()) if j is not None]
        if fix:
            conn.execute(m.assistance.update().where(m.assistance.c.id == sa.bindparam("_id"))
                         .values(duplicate_of=sa.bindparam("_ref")), fix)
        dup = [r if r is not None else (new_ids[j] if j is not None else None)
               for r, j in zip(ref.to_list(), pos.to_list(), strict=True)]
        ids = list(zip(new_ids, dup, strict=True))
        if import_id is not None:
            conn.execute(m.imports.update().where(m.imports.c.id == import_id).values(
                n_flagged=sum(d is not None for d in dup)))
        return pl.DataFrame(ids, schema={"id": pl.Int64, "duplicate_of": pl.Int64},
                            orient="row")

    def _duplicates(self, conn: sa.Connection, dataset: str, frame: pl.DataFrame,
                    window: int) -> tuple[pl.Series, pl.Series]:
        """For each new record: the id of an earlier stored record of the same household and
        action by another agency within ``window`` days, else the position of such an
        earlier record in this batch (two Series, nulls where none)."""
        a = m.assistance.c
        hh = frame["hh_id"].unique().to_list()
        existing: list[tuple[Any, ...]] = []
        for i in range(0, len(hh), 900):
            existing += conn.execute(sa.select(a.id, a.hh_id, a.action, a.agency, a.given_on)
                                     .where(a.dataset == dataset,
                                            a.hh_id.in_(hh[i:i + 900]))).all()
        schema = {"id": pl.Int64, "hh_id": pl.String, "action": pl.String,
                  "agency": pl.String, "given_on": pl.Date}
        old = pl.DataFrame(existing, schema=schema, orient="row")
        new = (frame.select("hh_id", "action", "agency", "given_on")
               .with_row_index("_i").with_columns(pl.col("_i").cast(pl.Int64)))
        batch = new.rename({"_i": "_j"})
        cand = pl.concat([
            new.join(old, on=["hh_id", "action"], how="inner", suffix="_o")
            .select("_i", pl.col("id").alias("_ref"), pl.lit(None, pl.Int64).alias("_j"),
                    "agency", "agency_o", "given_on", "given_on_o"),
            new.join(batch, on=["hh_id", "action"], how="inner", suffix="_o")
            .filter(pl.col("_j") < pl.col("_i"))
            .select("_i", pl.lit(None, pl.Int64).alias("_ref"), "_j",
                    "agency", "agency_o", "given_on", "given_on_o"),
        ])
        cand = cand.filter((pl.col("agency") != pl.col("agency_o"))
                           & ((pl.col("given_on") - pl.col("given_on_o")).dt.total_days().abs()
                              <= window))
        best = cand.sort(["_i", "_ref", "_j"], nulls_last=True).group_by("_i").first()
        out = new.select("_i").join(best.select("_i", "_ref", "_j"), on="_i",
                                    how="left").sort("_i")
        ref = out["_ref"].alias("duplicate_of")
        pos = pl.Series("pos", [None if r is not None else j for r, j in
                                zip(out["_ref"].to_list(), out["_j"].to_list(), strict=True)],
                        dtype=pl.Int64)
        return ref, pos

    def find_import(self, dataset: str, sha256: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(m.imports).where(
                m.imports.c.dataset == dataset, m.imports.c.sha256 == sha256)).first()
        return None if row is None else dict(row._mapping)

    def assistance_frame(self, dataset: str, *, provinces: set[str] | None = None,
                         before: dt.date | None = None, max_round: int | None = None
                         ) -> pl.DataFrame:
        """All help records (for progress and the evaluation): ``hh_id, province_code,
        amphoe_code, tambon_code, given_on, agency, action, horizon, amount_thb,
        duplicate_of``."""
        a = m.assistance.c
        cond = [a.dataset == dataset]
        if provinces is not None:
            cond.append(a.province_code.in_(sorted(provinces)) if provinces else sa.false())
        if before is not None:
            cond.append(a.given_on < before)
        if max_round is not None:
            # help given on the cases of a round (and earlier ones): not after the next survey
            cond.append(a.case_id.in_(sa.select(m.cases.c.id).where(
                m.cases.c.dataset == dataset, m.cases.c.round <= int(max_round))))
        cols = [a.id, a.hh_id, a.province_code, a.amphoe_code, a.tambon_code, a.given_on,
                a.agency, a.action, a.horizon, a.amount_thb, a.duplicate_of]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*cols).where(*cond).order_by(a.id)).all()
        return pl.DataFrame(rows, schema={
            "id": pl.Int64, "hh_id": pl.String, "province_code": pl.String,
            "amphoe_code": pl.String, "tambon_code": pl.String, "given_on": pl.Date,
            "agency": pl.String, "action": pl.String, "horizon": pl.String,
            "amount_thb": pl.Float64, "duplicate_of": pl.Int64}, orient="row")

    # -- missed households ----------------------------------------------------------------------
    def register_missed(self, dataset: str, round: int, *, village_id: str | None,
                        tambon_code: str, n_members: int, reason: str, actor: Actor,
                        n_children: int = 0, n_elderly: int = 0, n_disabled: int = 0,
                        lon: float | None = None, lat: float | None = None,
                        house_key: str | None = None) -> int:
        """Register a household found in the field but absent from the survey: a case of
        source ``missed`` (status not_visited) plus its intake row. Returns the case id."""
        rid = self.actions.resolve("reason", reason or "")
        if rid is None:
            raise InvalidInput(f"ไม่รู้จักเหตุผล {reason!r} / unknown reason {reason!r}",
                               column="reason")
        if not 1 <= int(n_members) <= 50:
            raise InvalidInput("จำนวนสมาชิกต้องเป็น 1-50 / members must be 1-50",
                               column="n_members")
        for name, v in (("n_children", n_children), ("n_elderly", n_elderly),
                        ("n_disabled", n_disabled)):
            if not 0 <= int(v) <= int(n_members):
                raise InvalidInput(f"{name} ต้องอยู่ระหว่าง 0 ถึงจำนวนสมาชิก / {name} must be "
                                   "between 0 and the number of members", column=name)
        hh_id = house_key or f"missed-{secrets.token_hex(8)}"
        types = [t for t, n in (("child", n_children), ("elderly", n_elderly),
                                ("disabled", n_disabled)) if int(n) > 0]
        at = now()
        with self.engine.begin() as conn:
            clash = conn.execute(sa.select(m.cases.c.id).where(
                m.cases.c.dataset == dataset, m.cases.c.hh_id == hh_id)).first()
            if clash is not None:
                raise Conflict("ครัวเรือนนี้มีอยู่ในระบบแล้ว (พบในการสำรวจหรือลงทะเบียนไว้แล้ว) / "
                               f"this household is already known (case {clash.id})")
            key = conn.execute(m.cases.insert().values(
                dataset=dataset, round=int(round), version_id=None, hh_id=hh_id,
                source="missed", province_code=tambon_code[:4], amphoe_code=tambon_code[:6],
                tambon_code=tambon_code, village_id=village_id, mpi_poor=False,
                target_poor=False, excluded="", failing="", n_members=int(n_members),
                household_type="+".join(types) or "other", max_c=None,
                status=self.workflow.initial, status_at=at, created_at=at
            )).inserted_primary_key
            case_id = int(key[0]) if key is not None else 0
            conn.execute(m.missed.insert().values(
                case_id=case_id, dataset=dataset, round=int(round),
                province_code=tambon_code[:4], amphoe_code=tambon_code[:6],
                tambon_code=tambon_code, village_id=village_id, lon=lon, lat=lat,
                n_members=int(n_members), n_children=int(n_children),
                n_elderly=int(n_elderly), n_disabled=int(n_disabled), reason=rid,
                house_key=house_key, created_at=at, created_by=actor.username))
        return case_id

    def missed_rows(self, dataset: str, *, provinces: set[str] | None) -> pd.DataFrame:
        c = m.missed.c
        cond = [c.dataset == dataset]
        if provinces is not None:
            cond.append(c.province_code.in_(sorted(provinces)) if provinces else sa.false())
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(c.case_id, c.round, c.province_code, c.amphoe_code,
                                          c.tambon_code, c.village_id, c.n_members, c.reason,
                                          c.matched_round, c.created_at)
                                .where(*cond).order_by(c.id)).all()
        return pd.DataFrame(rows, columns=["case_id", "round", "province_code", "amphoe_code",
                                           "tambon_code", "village_id", "n_members", "reason",
                                           "matched_round", "created_at"])

    # -- progress ------------------------------------------------------------------------------
    def generation(self, dataset: str) -> tuple[Any, ...]:
        """A stamp that changes whenever a figure of :meth:`progress` may change (a case
        opened or changed, a plan item added or cancelled, help recorded): the key of cached
        progress figures. One round trip over primary keys."""
        def top(col: Any) -> Any:
            return sa.select(sa.func.max(col)).scalar_subquery()

        stamp = sa.select(
            sa.select(sa.func.max(m.cases.c.id)).where(m.cases.c.dataset == dataset)
            .scalar_subquery(),
            top(m.history.c.id), top(m.plan.c.id), top(m.assistance.c.id),
            sa.select(sa.func.count()).select_from(m.plan).where(m.plan.c.cancelled)
            .scalar_subquery())
        with self.engine.connect() as conn:
            return tuple(conn.execute(stamp).one())

    def progress(self, dataset: str, round: int, *, level: str,
                 provinces: set[str] | None, area: str | None = None,
                 today: dt.date | None = None, agency: str | None = None) -> pd.DataFrame:
        """Per area of ``level``: ``code, n_cases, n_visited, n_with_plan, n_helped,
        n_resolved, n_closed, n_overdue, n_missed, n_assist, assist_thb`` (one SQL group-by;
        shares are computed by the caller from these sums). ``agency``: the help columns
        (``n_helped, n_assist, assist_thb``) count that agency's help records only."""
        if level not in AREA_COLUMNS:
            raise InvalidInput(f"level ต้องเป็น {', '.join(AREA_COLUMNS)} / level must be one of "
                               f"{', '.join(AREA_COLUMNS)}", column="level")
        today = today or dt.date.today()
        wf = self.workflow
        c = m.cases.c
        key = getattr(c, AREA_COLUMNS[level])
        cond = self._where(dataset, round, provinces, Filters(area=area), today)

        # a few narrow group-bys, each using an index, are much faster on SQLite than one
        # query with every correlated sub-query side by side (1.0 s -> 0.2 s, 20 k cases)
        a = m.assistance.c
        plan_states = [s for s in wf.at_stage(2) if s not in ("moved_or_deceased", "refused")]
        with self.engine.connect() as conn:
            by_status = conn.execute(sa.select(key, c.status, c.source, sa.func.count())
                                     .where(*cond).group_by(key, c.status, c.source)).all()
            with_plan: dict[Any, int] = dict(conn.execute(sa.select(key, sa.func.count()).where(
                *cond, sa.or_(c.status.in_(plan_states), self._has_plan())).group_by(key)
            ).all())
            overdue: dict[Any, int] = dict(conn.execute(sa.select(key, sa.func.count()).where(
                *cond, self._overdue(today)).group_by(key)).all())
            helped = {r[0]: r[1:] for r in conn.execute(
                sa.select(key, sa.func.count(sa.distinct(a.case_id)), sa.func.count(),
                          sa.func.coalesce(sa.func.sum(a.amount_thb), 0.0))
                .select_from(m.assistance.join(m.cases, a.case_id == c.id))
                .where(*cond, *([a.agency == agency] if agency else [])).group_by(key)
            ).all()}
        acc: dict[Any, list[Any]] = {}
        visited, resolved, closed = (set(wf.at_stage(1)), set(wf.resolved), set(wf.closed))
        for code, status, source, n in by_status:
            row = acc.setdefault(code, [0] * 10)
            row[0] += n
            row[1] += n if status in visited else 0
            row[4] += n if status in resolved else 0
            row[5] += n if status in closed else 0
            row[7] += n if source == "missed" else 0
        rows = []
        for code in sorted(acc, key=lambda x: (x is None, x or "")):
            r = acc[code]
            h = helped.get(code, (0, 0, 0.0))
            rows.append((code, r[0], r[1], with_plan.get(code, 0), h[0], r[4], r[5],
                         overdue.get(code, 0), r[7], h[1], float(h[2] or 0.0)))
        cols = ["code", "n_cases", "n_visited", "n_with_plan", "n_helped", "n_resolved",
                "n_closed", "n_overdue", "n_missed", "n_assist", "assist_thb"]
        out = pd.DataFrame(rows, columns=cols)
        for col in cols[1:-1]:
            out[col] = out[col].astype("int64")
        out["assist_thb"] = out["assist_thb"].astype("float64")
        return out

    def assistance_by(self, dataset: str, *, by: Sequence[str], provinces: set[str] | None,
                      area: str | None = None) -> pd.DataFrame:
        """Help delivered grouped by ``by`` (agency, action, horizon, province_code,
        amphoe_code): ``n_records, n_households, amount_thb, n_flagged``."""
        a = m.assistance.c
        allowed = {"agency", "action", "horizon", "province_code", "amphoe_code",
                   "tambon_code"}
        if not by or set(by) - allowed:
            raise InvalidInput(f"by ต้องเป็น {', '.join(sorted(allowed))} / group by one of "
                               f"{', '.join(sorted(allowed))}", column="by")
        cond = [a.dataset == dataset]
        if provinces is not None:
            cond.append(a.province_code.in_(sorted(provinces)) if provinces else sa.false())
        if area:
            col = {4: a.province_code, 6: a.amphoe_code, 8: a.tambon_code}.get(len(area))
            if col is None:
                raise InvalidInput(f"รหัสพื้นที่ไม่ถูกต้อง {area!r} / bad area code", column="area")
            cond.append(col == area)
        keys = [getattr(a, k) for k in by]
        q = (sa.select(*keys, sa.func.count().label("n_records"),
                       sa.func.count(sa.distinct(a.hh_id)).label("n_households"),
                       sa.func.coalesce(sa.func.sum(a.amount_thb), 0.0).label("amount_thb"),
                       sa.func.sum(sa.case((a.duplicate_of.is_not(None), 1), else_=0))
                       .label("n_flagged"))
             .where(*cond).group_by(*keys).order_by(*keys))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return pd.DataFrame(rows, columns=[*by, "n_records", "n_households", "amount_thb",
                                           "n_flagged"])


#: columns of a validated assistance frame handed to :meth:`CaseStore.insert_assistance`
ASSIST_COLUMNS = ["case_id", "hh_id", "province_code", "amphoe_code", "tambon_code",
                  "given_on", "agency", "action", "horizon", "amount_thb", "note", "source_row"]


def _amount(value: Any) -> float:
    text = str(value if value is not None else "0").replace(",", "").replace("บาท", "")
    text = text.replace("฿", "").strip() or "0"
    try:
        amount = float(text)
    except ValueError:
        amount = float("nan")
    if not (amount == amount) or amount < 0 or amount > 10_000_000:
        raise InvalidInput(f"จำนวนเงินไม่ถูกต้อง {value!r} (0-10,000,000 บาท) / invalid amount "
                           f"{value!r} (0-10,000,000 THB)", column="amount_thb")
    return round(amount, 2)
