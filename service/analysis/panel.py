"""Panel measures between two rounds of a dataset (docs/CONTRACT-WAVE2.md §3, ``pnl_*``).

Households are matched by ``hh_id`` and persons by ``person_id`` (stable pseudonyms: the
demo panel keeps them, ingest derives them from the keyed HMAC of the national ID). For an
area X of any level (country ... village, H3 r6-r9):

* **matched**: in X in both rounds; the transitions are counted among them: *exited* (poor in
  the earlier round, not now), *entered* (not poor, now poor), *persistent* (poor in both);
* **moved in** / **moved out**: present in both rounds, but in X in only one of them;
* **new** / **left**: present in one round only (births, new households; deaths, households
  leaving the survey). Nobody is silently dropped:
  ``n_households(now) = matched + moved_in + new`` and
  ``n_households(before) = matched + moved_out + left`` (the same for persons).

"Poor" is the MPI-poor household (``hh_mpi_poor``) for households and the MPI-poor person
(``mpi_poor``) for persons; ``pnl_tp_*`` use TPMAP's target poor. Groups and cross-generational
households are those of the earlier round (a cohort: "of the children poor in 2561, how many
left poverty"); entered cross-generational households are those cross-generational now.
*Chronic* households are poor in every round of the dataset so far (``pnl_chronic``, carried
in the scored persons from round to round); *new poor* = entered + poor households new to
the survey. Programme exclusion: *exited* = excluded (eligible, not covered) before and covered
now, *persistent* = excluded in both, *entered* = not excluded before, excluded now.

A household counts in every area where one of its members is (as in
:mod:`service.analysis.aggregate`): household rows are distinct (hh_id, area) pairs.

Memory-bounded like :class:`service.analysis.aggregate.Aggregator`: batches are province
files; ids unmatched inside their province (moves between provinces, new, left) wait in a
narrow buffer matched at :meth:`PanelAggregator.finish`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

COUNTRY_CODE = "TH"
ADMIN = {"country": None, "province": 4, "amphoe": 6, "tambon": 8}
H3 = ("h3_r6", "h3_r7", "h3_r8", "h3_r9")
LEVELS = (*ADMIN, "village", *H3)
#: columns of the scored persons the panel reads (those present)
#: (only h3_r9: the coarser cells are its parents, derived where needed)
_BASE = ("person_id", "hh_id", "tambon_located", "village_id", "h3_r9", "mpi_poor",
         "hh_mpi_poor",
         "tpmap_target_poor", "hh_crossgen", "pnl_chronic")


def needed_columns(columns: Iterable[str]) -> list[str]:
    cols = list(columns)
    return [c for c in cols if c in _BASE or c.startswith(("grp_", "elig_", "cov_"))]


def chronic_column(current: pl.DataFrame, previous: pl.DataFrame | None) -> pl.Series:
    """``pnl_chronic`` of the current round: the household is MPI-poor now and was chronic
    (poor in every earlier round) in the previous round's file; without a previous round,
    poor now. Households of other provinces in the previous round are not seen here (a
    household moving between provinces starts its chronic count again: documented)."""
    poor = current["hh_mpi_poor"].fill_null(False)
    if previous is None:
        return poor.alias("pnl_chronic")
    col = "pnl_chronic" if "pnl_chronic" in previous.columns else "hh_mpi_poor"
    # the households chronic before (any member's row says so): few, so a set lookup
    chronic = previous.filter(pl.col(col).fill_null(False))["hh_id"].unique()
    return (poor & current["hh_id"].is_in(chronic.implode())).alias("pnl_chronic")


def _flag(name: str, columns: Iterable[str]) -> pl.Expr:
    return (pl.col(name).fill_null(False).cast(pl.Boolean) if name in set(columns)
            else pl.lit(False))


@dataclass(frozen=True)
class _Spec:
    groups: tuple[str, ...]
    programmes: tuple[str, ...]

    @classmethod
    def of(cls, columns: Iterable[str]) -> _Spec:
        cols = set(columns)
        groups = tuple(sorted(c[4:] for c in cols if c.startswith("grp_")))
        progs = tuple(sorted(c[5:] for c in cols if c.startswith("elig_")
                             and f"cov_{c[5:]}" in cols))
        return cls(groups, progs)

    def count_columns(self) -> list[str]:
        hh = ["pnl_hh_matched", "pnl_hh_new", "pnl_hh_left", "pnl_hh_moved_in",
              "pnl_hh_moved_out", "pnl_hh_exited", "pnl_hh_entered", "pnl_hh_persistent",
              "pnl_hh_chronic", "pnl_hh_new_poor", "pnl_hh_exited_crossgen",
              "pnl_hh_entered_crossgen", "pnl_hh_persistent_crossgen", "pnl_tp_hh_exited",
              "pnl_tp_hh_entered", "pnl_tp_hh_persistent"]
        p = ["pnl_p_matched", "pnl_p_new", "pnl_p_left", "pnl_p_moved_in", "pnl_p_moved_out",
             "pnl_p_exited", "pnl_p_entered", "pnl_p_persistent", "pnl_tp_p_exited",
             "pnl_tp_p_entered", "pnl_tp_p_persistent"]
        for g in self.groups:
            p += [f"pnl_p_exited_{g}", f"pnl_p_entered_{g}", f"pnl_p_persistent_{g}"]
        for q in self.programmes:
            p += [f"pnl_excl_{q}_exited", f"pnl_excl_{q}_persistent", f"pnl_excl_{q}_entered"]
        return hh + p


def _prepare(frame: pl.DataFrame, spec: _Spec) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(households, persons): narrow rows with location keys and flags."""
    cols = frame.columns
    keys = ["tambon_located", "village_id"] + (["h3_r9"] if "h3_r9" in cols else [])
    frame = frame.filter(pl.col("tambon_located").is_not_null())
    persons = frame.select(
        pl.col("person_id").alias("id"), *keys,
        _flag("mpi_poor", cols).alias("poor"), _flag("tpmap_target_poor", cols).alias("tp"),
        *[_flag(f"grp_{g}", cols).alias(f"g_{g}") for g in spec.groups],
        *[(_flag(f"elig_{q}", cols) & ~_flag(f"cov_{q}", cols)).alias(f"x_{q}")
          for q in spec.programmes],
        *[_flag(f"cov_{q}", cols).alias(f"c_{q}") for q in spec.programmes])
    chronic = "pnl_chronic" if "pnl_chronic" in cols else "hh_mpi_poor"
    # in file order: the ids come out nearly sorted, which makes their encoding cheap
    households = frame.lazy().group_by(["hh_id", *keys], maintain_order=True).agg(
        _flag("hh_mpi_poor", cols).any().alias("poor"),
        _flag("tpmap_target_poor", cols).any().alias("tp"),
        _flag("hh_crossgen", cols).any().alias("crossgen"),
        _flag(chronic, cols).any().alias("chronic")).rename({"hh_id": "id"}).collect()
    return households, persons


def _key(level: str) -> pl.Expr:
    if level == "country":
        return pl.lit(COUNTRY_CODE)
    if level in ADMIN:
        return pl.col("tambon_located").str.slice(0, ADMIN[level])
    if level == "village":
        return pl.col("village_id")
    return pl.col(level)


def _and(m: pl.Expr | None, e: pl.Expr) -> pl.Expr:
    return e if m is None else m & e


def _transition(poor: str, before: str) -> dict[str, pl.Expr]:
    a, b = pl.col(before), pl.col(poor)
    return {"exited": a & ~b, "entered": ~a & b, "persistent": a & b}


def _hh_exprs(m: pl.Expr | None = None) -> tuple[list[pl.Expr], list[pl.Expr]]:
    """(counts over matched rows, counts over current rows) of households; ``m`` masks the
    matched rows of a frame that holds others too."""
    t = _transition("poor", "poor_prev")
    tp = _transition("tp", "tp_prev")
    matched = [(pl.len() if m is None else m.sum()).alias("pnl_hh_matched"),
               *[_and(m, e).sum().alias(f"pnl_hh_{k}") for k, e in t.items()],
               _and(m, t["exited"] & pl.col("crossgen_prev")).sum()
               .alias("pnl_hh_exited_crossgen"),
               _and(m, t["entered"] & pl.col("crossgen")).sum().alias("pnl_hh_entered_crossgen"),
               _and(m, t["persistent"] & pl.col("crossgen_prev")).sum()
               .alias("pnl_hh_persistent_crossgen"),
               *[_and(m, e).sum().alias(f"pnl_tp_hh_{k}") for k, e in tp.items()]]
    return matched, [pl.col("chronic_now").sum().alias("pnl_hh_chronic")]


def _p_exprs(spec: _Spec, m: pl.Expr | None = None) -> list[pl.Expr]:
    t = _transition("poor", "poor_prev")
    tp = _transition("tp", "tp_prev")
    out = [(pl.len() if m is None else m.sum()).alias("pnl_p_matched"),
           *[_and(m, e).sum().alias(f"pnl_p_{k}") for k, e in t.items()],
           *[_and(m, e).sum().alias(f"pnl_tp_p_{k}") for k, e in tp.items()]]
    for g in spec.groups:
        member = pl.col(f"g_{g}_prev")
        out += [_and(m, e & member).sum().alias(f"pnl_p_{k}_{g}") for k, e in t.items()]
    for q in spec.programmes:
        was, now, cov = pl.col(f"x_{q}_prev"), pl.col(f"x_{q}"), pl.col(f"c_{q}")
        out += [_and(m, was & cov).sum().alias(f"pnl_excl_{q}_exited"),
                _and(m, was & now).sum().alias(f"pnl_excl_{q}_persistent"),
                _and(m, ~was & now).sum().alias(f"pnl_excl_{q}_entered")]
    return out


def _encode(cur: pl.DataFrame, prev: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Replace the string ``id`` of both frames by one integer code (joins on integers are
    several times cheaper than on strings)."""
    codes = pl.concat([cur["id"], prev["id"]]).rank("dense").cast(pl.Int64)
    return (cur.with_columns(codes[:cur.height].alias("id")),
            prev.with_columns(codes[cur.height:].alias("id")))


def _h3_parents(frame: pl.DataFrame, suffix: str = "") -> pl.DataFrame:
    """Add h3_r6..h3_r8 (and their ``suffix`` copies) as parents of h3_r9."""
    import polars_h3 as plh3

    out = []
    for sfx in ({"", suffix} if suffix else {""}):
        r9 = pl.col(f"h3_r9{sfx}")
        out += [plh3.cell_to_parent(r9, int(h[-1])).cast(pl.UInt64).alias(f"{h}{sfx}")
                for h in H3[:-1]]
    return frame.with_columns(out)


def _with_h3(frame: pl.DataFrame) -> pl.DataFrame:
    if "h3_r9" in frame.columns:
        return frame.drop([h for h in H3[:-1] if h in frame.columns])
    return frame.with_columns(pl.lit(None, dtype=pl.UInt64).alias("h3_r9"))


@dataclass
class PanelAggregator:
    """Accumulate (current, previous) province batches into per-level ``pnl_*`` counts."""

    spec: _Spec | None = None
    _parts: dict[str, list[pl.DataFrame]] = field(default_factory=dict)
    _buffer: dict[str, list[pl.DataFrame]] = field(default_factory=dict)

    def add(self, current: pl.DataFrame | None, previous: pl.DataFrame | None) -> None:
        """One province: its scored persons now and in the previous round (either may be
        None when the province is in one round only)."""
        ref = current if current is not None else previous
        if ref is None:
            return
        if self.spec is None:
            self.spec = _Spec.of(ref.columns)
        cur = _prepare(current, self.spec) if current is not None else None
        prev = _prepare(previous, self.spec) if previous is not None else None
        for unit, k in (("hh", 0), ("p", 1)):
            c = _with_h3(cur[k]) if cur is not None else None
            p = _with_h3(prev[k]) if prev is not None else None
            if c is None or p is None:
                # everything unmatched here: matched (or not) at finish
                for side, frame in (("cur", c), ("prev", p)):
                    if frame is not None:
                        self._buffer.setdefault(f"{unit}_{side}", []).append(frame)
                continue
            ci, pi = _encode(c, p)
            in_prev = ci["id"].is_in(pi["id"].implode())
            in_cur = pi["id"].is_in(ci["id"].implode())
            self._buffer.setdefault(f"{unit}_cur", []).append(c.filter(~in_prev))
            self._buffer.setdefault(f"{unit}_prev", []).append(p.filter(~in_cur))
            self._pair(unit, ci.filter(in_prev), pi.filter(in_cur), final=False)

    def _pair(self, unit: str, cur: pl.DataFrame, prev: pl.DataFrame, *, final: bool) -> None:
        """Count one pair of frames (integer ids): one join when every id has one location
        per round (persons always; households almost always), else level by level."""
        if unit == "p" or (cur["id"].is_unique().all() and prev["id"].is_unique().all()):
            self._count_fast(unit, cur, prev, final=final)
        else:
            self._count(unit, cur, prev, final=final)

    def _count_fast(self, unit: str, cur: pl.DataFrame, prev: pl.DataFrame, *,
                    final: bool) -> None:
        """One join on the id, one group-by on the (location now, location before) pairs;
        every level is then summed from the small pair table (a pair counts as matched at a
        level when both locations have the same code there, else as moved)."""
        assert self.spec is not None
        # the coarser H3 cells are parents of r9: derived on the small pair table
        keys = ["tambon_located", "village_id", "h3_r9"]
        keys_prev = [f"{k}_prev" for k in keys]
        # lazy: the query engine shares the common parts of the many sums (not eagerly)
        j = cur.lazy().join(prev.lazy(), on="id", how="inner", suffix="_prev")
        if unit == "hh":
            j = j.with_columns((pl.col("poor") & pl.col("chronic_prev")).alias("chronic_now"))
            counts = _hh_exprs()[0] + _hh_exprs()[1]
        else:
            counts = _p_exprs(self.spec)
        matched_col = f"pnl_{unit}_matched"
        pairs = _h3_parents(j.group_by(keys + keys_prev).agg(counts).collect(), "_prev")
        sums = [c for c in pairs.columns if c.startswith("pnl_")]
        chronic = ["pnl_hh_chronic"] if unit == "hh" else []
        prev_view = pairs.select([pl.col(f"{k}_prev").alias(k)
                                  for k in ("tambon_located", "village_id", *H3)])
        if final:
            new_agg = [pl.len().alias(f"pnl_{unit}_new")]
            if unit == "hh":
                new_agg.append(pl.col("poor").sum().alias("pnl_hh_new_poor"))
            new = _h3_parents(cur.lazy().join(prev.lazy(), on="id", how="anti")
                              .group_by(keys).agg(new_agg).collect())
            left = _h3_parents(prev.lazy().join(cur.lazy(), on="id", how="anti")
                               .group_by(keys).agg(pl.len().alias(f"pnl_{unit}_left"))
                               .collect())
        queued: list[tuple[str, pl.LazyFrame]] = []
        for level in LEVELS:
            kp = prev_view.with_columns(_key(level).alias("code"))["code"]
            frame = pairs.with_columns(_key(level).alias("code")).with_columns(
                pl.col("code").eq_missing(kp).alias("_same"), kp.alias("_code_prev")).lazy()
            here = frame.filter(pl.col("code").is_not_null())
            parts = [here.filter("_same").group_by("code").agg(pl.col(sums).sum()),
                     here.filter(~pl.col("_same")).group_by("code").agg(
                         pl.col(matched_col).sum().alias(f"pnl_{unit}_moved_in"),
                         *[pl.col(c).sum() for c in chronic]),
                     frame.filter(pl.col("_code_prev").is_not_null() & ~pl.col("_same"))
                     .group_by(pl.col("_code_prev").alias("code"))
                     .agg(pl.col(matched_col).sum().alias(f"pnl_{unit}_moved_out"))]
            if final:
                for extra in (new, left):
                    parts.append(extra.lazy().with_columns(_key(level).alias("code"))
                                 .filter(pl.col("code").is_not_null()).group_by("code")
                                 .agg(pl.exclude([*keys, *H3, "code"]).sum()))
            queued += [(level, part.with_columns(pl.exclude("code").cast(pl.Int32)))
                       for part in parts]
        # every level's parts in one go (in the order queued)
        for (level, _), part in zip(queued, pl.collect_all([q for _, q in queued]),
                                    strict=True):
            self._parts.setdefault(level, []).append(part)

    def _count(self, unit: str, cur: pl.DataFrame, prev: pl.DataFrame, *, final: bool) -> None:
        """Counts per level of one pair of frames; ids of one side absent from the other
        are new / left (only in the final pass: elsewhere they were buffered)."""
        assert self.spec is not None
        flags = [c for c in cur.columns if c not in ("id", "tambon_located", "village_id",
                                                      *H3)]
        if unit == "hh":
            chronic_prev = prev.group_by("id").agg(pl.col("chronic").any().alias("_cp"))
            cur = cur.join(chronic_prev, on="id", how="left").with_columns(
                (pl.col("poor") & pl.col("_cp").fill_null(False)).alias("chronic_now")
            ).drop("_cp")
            matched_exprs, current_exprs = _hh_exprs()
        else:
            matched_exprs, current_exprs = _p_exprs(self.spec), []
        cur, prev = _h3_parents(cur), _h3_parents(prev)
        ids_prev = prev.select("id").unique()
        ids_cur = cur.select("id").unique()
        for level in LEVELS:
            key = _key(level)
            c = (cur.with_columns(key.alias("code")).filter(pl.col("code").is_not_null())
                 .drop("tambon_located", "village_id", *H3))
            p = (prev.with_columns(key.alias("code")).filter(pl.col("code").is_not_null())
                 .select("id", "code", *flags))
            if unit == "hh":  # a household counts once in every area where a member is
                c = c.unique(["id", "code"], keep="first")
                p = p.unique(["id", "code"], keep="first")
            p = p.rename({f: f"{f}_prev" for f in flags})
            m = c.join(p, on=["id", "code"], how="inner")
            c_only = c.join(p, on=["id", "code"], how="anti")
            p_only = p.join(c, on=["id", "code"], how="anti")
            c_known = c_only.join(ids_prev, on="id", how="semi")
            p_known = p_only.join(ids_cur, on="id", how="semi")
            parts = [m.group_by("code").agg(matched_exprs),
                     c_known.group_by("code").agg(pl.len().alias(f"pnl_{unit}_moved_in")),
                     p_known.group_by("code").agg(pl.len().alias(f"pnl_{unit}_moved_out"))]
            if current_exprs:
                parts.append(c.group_by("code").agg(current_exprs))
            if final:
                new = c_only.join(ids_prev, on="id", how="anti")
                left = p_only.join(ids_cur, on="id", how="anti")
                agg_new = [pl.len().alias(f"pnl_{unit}_new")]
                if unit == "hh":
                    agg_new.append(pl.col("poor").sum().alias("pnl_hh_new_poor"))
                parts += [new.group_by("code").agg(agg_new),
                          left.group_by("code").agg(pl.len().alias(f"pnl_{unit}_left"))]
            for part in parts:
                self._parts.setdefault(level, []).append(
                    part.with_columns(pl.exclude("code").cast(pl.Int32)))

    def finish(self) -> dict[str, pl.DataFrame]:
        """Per level: ``code`` and the ``pnl_*`` columns (counts Int32, rates Float64)."""
        if self.spec is None:
            return {}
        for unit in ("hh", "p"):
            cur = self._buffer.pop(f"{unit}_cur", [])
            prev = self._buffer.pop(f"{unit}_prev", [])
            if not cur and not prev:
                continue
            template = (cur or prev)[0]
            c = pl.concat(cur, how="diagonal_relaxed") if cur else template.clear()
            p = pl.concat(prev, how="diagonal_relaxed") if prev else template.clear()
            self._pair(unit, *_encode(c, p), final=True)
        cols = self.spec.count_columns()
        out: dict[str, pl.DataFrame] = {}
        for level, parts in self._parts.items():
            frame = (pl.concat(parts, how="diagonal_relaxed").group_by("code")
                     .agg([pl.col(c).sum() for c in cols if c in
                           {n for part in parts for n in part.columns}]))
            frame = frame.with_columns([pl.lit(0, dtype=pl.Int64).alias(c) for c in cols
                                        if c not in frame.columns])
            frame = frame.with_columns(
                (pl.col("pnl_hh_entered") + pl.col("pnl_hh_new_poor")).alias("pnl_hh_new_poor"))
            if level in H3:
                import polars_h3 as plh3

                frame = frame.with_columns(plh3.int_to_str(pl.col("code").cast(pl.UInt64))
                                           .alias("code"))
            out[level] = rates(frame.select(["code", *[pl.col(c).cast(pl.Int32) for c in cols]]))
        self._parts.clear()
        return out


def rates(frame: pl.DataFrame) -> pl.DataFrame:
    """``pnl_exit_rate`` = exited / (exited + persistent) and ``pnl_entry_rate`` = entered /
    (matched not poor before), households; null when the denominator is 0."""
    poor_before = pl.col("pnl_hh_exited") + pl.col("pnl_hh_persistent")
    not_before = pl.col("pnl_hh_matched") - poor_before
    return frame.with_columns(
        pl.when(poor_before > 0).then(pl.col("pnl_hh_exited") / poor_before)
        .otherwise(None).cast(pl.Float64).alias("pnl_exit_rate"),
        pl.when(not_before > 0).then(pl.col("pnl_hh_entered") / not_before)
        .otherwise(None).cast(pl.Float64).alias("pnl_entry_rate"))


def attach(table: pl.DataFrame, panel: pl.DataFrame | None) -> pl.DataFrame:
    """The area table with the panel columns (0 for areas without panel rows)."""
    if panel is None:
        return table
    counts = [c for c in panel.columns if c.startswith("pnl_") and not c.endswith("_rate")]
    joined = table.join(panel.drop("pnl_exit_rate", "pnl_entry_rate"), on="code", how="left")
    joined = joined.with_columns([pl.col(c).fill_null(0) for c in counts])
    return rates(joined)
