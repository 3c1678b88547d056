"""Sum scored persons into area statistics (docs/CONTRACT.md §3).

Counts are summed first and ratios computed from the sums afterwards (a mean of ratios would
weigh a 12-household village like a 3,000-household tambon). The work is split in two so a
whole country fits in memory:

1. :meth:`Aggregator.add` takes one batch of scored persons (one province), groups it by the
   finest keys (village, located tambon, H3 r9 cell) and keeps only small per-level partial
   count tables;
2. :meth:`Aggregator.finish` sums the partials of every batch per level (an H3 cell or a
   tambon may receive households from two province files), attaches identity columns and
   computes the ratios.

Household counts are additive because each household is counted once, on its first member
(`is_first_distinct` over ``hh_id``). Members of one household may be recorded in different
villages, tambons or H3 cells, so every table also carries ``n_hh_present``: households with
*any* member in the area (not additive). Disclosure control uses it: a household counts in
every area where any member is (analysis/disclosure.py). ``ckey`` is the area's cell key for
the cell-key perturbation of public counts: the sum of its persons' record keys modulo 256
(:func:`record_keys`), additive like any count and never published.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from service.vocabulary import H3_RESOLUTIONS

log = logging.getLogger(__name__)

IDENTITY_COLUMNS = ("level", "code", "parent_code", "name_th", "name_en", "province_code")
COUNTRY_CODE = "TH"

_GROUP_RE = re.compile(r"^grp_(\w+)$")
_DEP_RE = re.compile(r"^dep_(\w+)$")
_DIM_RE = re.compile(r"^tpmap_dim_(\w+)$")
_ELIG_RE = re.compile(r"^elig_(\w+)$")


@dataclass(frozen=True)
class CountSpec:
    """Which indicator, dimension, group and programme columns a scored frame carries."""

    indicators: tuple[str, ...]
    dimensions: tuple[str, ...]
    groups: tuple[str, ...]
    programmes: tuple[str, ...]

    @classmethod
    def from_columns(cls, columns: Iterable[str]) -> CountSpec:
        cols = list(columns)
        colset = set(cols)

        def found(pattern: re.Pattern[str]) -> tuple[str, ...]:
            return tuple(m.group(1) for c in cols if (m := pattern.match(c)))

        programmes = tuple(p for p in found(_ELIG_RE) if f"cov_{p}" in colset)
        return cls(found(_DEP_RE), found(_DIM_RE), found(_GROUP_RE), programmes)

    def count_columns(self) -> list[str]:
        """Names of the summed count columns, in table order."""
        names = ["n_households", "n_persons", "n_scored", "n_poor", "sum_c_poor", "n_vulnerable",
                 "n_severe"]
        names += [f"n_dep_{i}" for i in self.indicators]
        names += [f"n_cdep_{i}" for i in self.indicators]
        names += ["n_deprived_any", "n_target_poor"]
        names += [f"n_target_poor_{d}" for d in self.dimensions]
        names += ["n_poor_households", "n_crossgen_households"]
        for g in self.groups:
            names += [f"n_{g}", f"n_poor_{g}", f"sum_c_poor_{g}"]
        for p in self.programmes:
            names += [f"n_elig_{p}", f"n_cov_{p}", f"n_excl_{p}", f"n_incl_err_{p}"]
        return names


_XY = ["_sum_lon", "_sum_lat", "_n_xy"]
#: summed record keys (see ckey): a partial sum, reduced modulo CELL_KEY_MODULUS at the end
_CKEY = "_ckey"
#: the province of a located tambon, for the parts of border cells
_PROVINCE = "_province"
CELL_KEY_MODULUS = 256


def record_keys(ids: pl.Series) -> pl.Series:
    """Record key 0-255 of each person id (nulls: 0), from a seeded hash of the id: the same
    person gets the same key in every build and round, so a cell holding the same persons
    always gets the same perturbation. The keys are summed into each table's ``ckey`` when a
    version is built, so a version's published noise never changes afterwards (polars does
    not promise the same hash across its own releases: a rebuild after an upgrade may draw
    new noise)."""
    keys = (ids.hash(seed=0x4348495041304B)
            % CELL_KEY_MODULUS).cast(pl.UInt8)
    return keys.set(ids.is_null(), 0) if ids.null_count() else keys


#: float sums (sum_c_poor*, village coordinates) are summed as integers of 1e-9 units: exact,
#: so the tables are the same bytes whatever the order, threads or processes of the sums
FIXED = 1_000_000_000


def _fixed(expr: pl.Expr) -> pl.Expr:
    return (expr.cast(pl.Float64) * FIXED).round(0).cast(pl.Int64)
REQUIRED_COLUMNS = ("hh_id", "village_id", "tambon_located", "mpi_c", "mpi_poor",
                    "mpi_vulnerable", "mpi_severe", "tpmap_deprived_any", "tpmap_target_poor",
                    "hh_mpi_poor", "hh_crossgen")


def _runs(frame: pl.DataFrame, keys: list[str]) -> pl.Series:
    """True where a run of consecutive rows with the same ``keys`` starts (nulls equal)."""
    changed = pl.int_range(pl.len()) == 0
    for col in keys:
        changed = changed | pl.col(col).ne_missing(pl.col(col).shift(1))
    return frame.select(changed.alias("_run"))["_run"]


def _flag(name: str) -> pl.Expr:
    # null (not applicable / unknown) never counts as deprived or covered
    return pl.col(name).fill_null(False).cast(pl.Boolean)


def _count_exprs(spec: CountSpec) -> list[pl.Expr]:
    # same semantics as service.analysis.mpi.count_exprs (persons with a null score, under the
    # "drop" missing rule, count in n_persons only), but household counts additive
    poor = _flag("mpi_poor")
    scored = pl.col("mpi_c").is_not_null()
    first = pl.col("_hh_first")
    c_poor = _fixed(pl.when(poor).then(pl.col("mpi_c").cast(pl.Float64)).otherwise(0.0))
    exprs = [
        pl.col("_rkey").cast(pl.UInt64).sum().alias(_CKEY),
        first.sum().alias("n_households"),
        pl.len().cast(pl.UInt32).alias("n_persons"),
        scored.sum().alias("n_scored"),
        poor.sum().alias("n_poor"),
        c_poor.sum().alias("sum_c_poor"),
        _flag("mpi_vulnerable").sum().alias("n_vulnerable"),
        _flag("mpi_severe").sum().alias("n_severe"),
    ]
    for i in spec.indicators:
        dep = (pl.col(f"dep_{i}") == 1).fill_null(False) & scored
        exprs.append(dep.sum().alias(f"n_dep_{i}"))
        exprs.append((dep & poor).sum().alias(f"n_cdep_{i}"))
    target = _flag("tpmap_target_poor")
    exprs += [_flag("tpmap_deprived_any").sum().alias("n_deprived_any"),
              target.sum().alias("n_target_poor")]
    exprs += [(_flag(f"tpmap_dim_{d}") & target).sum().alias(f"n_target_poor_{d}")
              for d in spec.dimensions]
    exprs += [(first & _flag("hh_mpi_poor")).sum().alias("n_poor_households"),
              (first & _flag("hh_crossgen")).sum().alias("n_crossgen_households")]
    for g in spec.groups:
        member = _flag(f"grp_{g}") & scored
        exprs += [member.sum().alias(f"n_{g}"),
                  (member & poor).sum().alias(f"n_poor_{g}"),
                  pl.when(member).then(c_poor).otherwise(0).sum().alias(f"sum_c_poor_{g}")]
    for p in spec.programmes:
        elig, cov = _flag(f"elig_{p}"), _flag(f"cov_{p}")
        exprs += [elig.sum().alias(f"n_elig_{p}"), cov.sum().alias(f"n_cov_{p}"),
                  (elig & ~cov).sum().alias(f"n_excl_{p}"),
                  (cov & ~elig).sum().alias(f"n_incl_err_{p}")]
    return exprs


def _sum_exprs(count_columns: list[str]) -> list[pl.Expr]:
    return [pl.col(c).sum() for c in count_columns]


def _sum_by(frame: pl.DataFrame, keys: list[str], count_columns: list[str]) -> pl.DataFrame:
    """``frame.group_by(keys).agg(sums)``, the rows whose keys occur once passed through as
    they are (most cells lie in one province): the same sums, dtypes and columns, at the cost
    of grouping only the rest."""
    key = pl.col(keys[0]) if len(keys) == 1 else pl.struct(keys)
    many = frame.select(key.is_duplicated())[:, 0]
    if not many.any():
        return frame.select(*keys, *count_columns)
    return pl.concat([frame.filter(~many).select(*keys, *count_columns),
                      frame.filter(many).group_by(keys).agg(_sum_exprs(count_columns))])


def ratios(frame: pl.DataFrame, spec: CountSpec | None = None) -> pl.DataFrame:
    """Add h, a, m0, h_<grp>, m0_<grp>, cov_<p> computed from summed counts, with the
    engine's :func:`service.analysis.mpi.ratios_from_counts` (the one place the formulas
    live; denominators ``n_scored``, ``n_<grp>``, ``n_elig_<p>``; null when 0)."""
    from service.analysis.mpi import ratios_from_counts

    return ratios_from_counts(frame)


@dataclass
class Aggregator:
    """Accumulate scored-person batches into per-level partial count tables.

    Parameters
    ----------
    names:
        admin code -> (name_th, name_en) for provinces, amphoes and tambons (from
        :func:`service.geo.boundaries.hierarchy`); codes not found get their code as name.
    """

    names: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    spec: CountSpec | None = None
    _parts: dict[str, list[pl.DataFrame]] = field(default_factory=dict)
    n_rows: int = 0
    n_without_tambon: int = 0
    n_without_cell: int = 0
    #: per H3 level: households of each cell per located tambon (for the differencing audit)
    cell_tambons: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: per H3 level: the part of each province in every border cell (a cell holding persons
    #: located in more than one province), a table of the level's columns with one row per
    #: (cell, province): what a provincial user sees of a border cell in detail (SEC)
    partials: dict[str, pl.DataFrame] = field(default_factory=dict)

    def add(self, persons: pl.DataFrame | pl.LazyFrame) -> None:
        """Add one batch of scored persons (columns of CONTRACT §1 + §2).

        A household must not be split across batches (batches are province files).
        """
        lazy = persons.lazy()
        columns = lazy.collect_schema().names()
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise ValueError(f"scored persons lack column(s) {', '.join(missing)} "
                             "(see docs/CONTRACT.md §2)")
        spec = CountSpec.from_columns(columns)
        if self.spec is None:
            self.spec = spec
        elif spec != self.spec:
            raise ValueError("scored person batches carry different indicator/group/programme "
                             f"columns: {spec} vs {self.spec}")
        has_cells = "h3_r9" in columns
        keys = ["tambon_located", "village_id"] + (["h3_r9"] if has_cells else [])
        has_xy = "lon" in columns and "lat" in columns
        xy = ([_fixed(pl.col("lon")).sum().alias("_sum_lon"),
               _fixed(pl.col("lat")).sum().alias("_sum_lat"),
               (pl.col("lon").is_not_null() & pl.col("lat").is_not_null()).sum().alias("_n_xy")]
              if has_xy else [pl.lit(0, dtype=pl.Int64).alias("_sum_lon"),
                              pl.lit(0, dtype=pl.Int64).alias("_sum_lat"),
                              pl.lit(0, dtype=pl.UInt32).alias("_n_xy")])
        frame = lazy.collect() if isinstance(persons, pl.LazyFrame) else persons
        runs = _runs(frame, ["hh_id", *keys])
        heads = frame.select(pl.col("hh_id").filter(runs))["hh_id"]
        # a household's first member opens a run (consecutive rows of one household in one
        # fine area); so hashing the run heads' ids finds every first member
        head_first = heads.is_first_distinct()
        first = np.zeros(frame.height, dtype=bool)
        first[np.flatnonzero(runs.to_numpy())[head_first.to_numpy()]] = True
        rkey = (record_keys(frame["person_id"]) if "person_id" in columns
                else pl.Series(np.zeros(frame.height, dtype=np.uint8)))
        marked = frame.with_columns(pl.Series("_hh_first", first), rkey.alias("_rkey"))
        fine = (marked.lazy()
                .with_columns([pl.when(pl.col("lat").is_not_null()).then(pl.col("lon"))
                               .alias("lon"),
                               pl.when(pl.col("lon").is_not_null()).then(pl.col("lat"))
                               .alias("lat")] if has_xy else [])
                .group_by(keys).agg(_count_exprs(spec) + xy).collect())
        # households whose members lie in more than one fine area (village, tambon, cell):
        # few, kept whole so that n_hh_present can count them in every area they touch. Only
        # a household with more than one run can be one (a run head that is not its first)
        again = heads.filter(~head_first)
        if again.len():
            ids = again.drop_nulls().unique()
            of_again = pl.col("hh_id").is_in(ids.implode())
            if again.null_count():
                of_again = of_again | pl.col("hh_id").is_null()
            split = (marked.lazy().filter(of_again).group_by(["hh_id", *keys])
                     .agg(pl.col("_hh_first").any().alias("_first"))
                     .filter(pl.len().over("hh_id") > 1).collect())
            if split.height:
                self._parts.setdefault("split", []).append(split)
        del marked, frame
        count_cols = spec.count_columns() + [_CKEY]
        self.n_rows += int(fine["n_persons"].sum() or 0)
        no_tambon = fine["tambon_located"].is_null()
        self.n_without_tambon += int(fine.filter(no_tambon)["n_persons"].sum() or 0)
        fine = fine.filter(~no_tambon)

        tambon = fine.group_by("tambon_located").agg(_sum_exprs(count_cols))
        self._parts.setdefault("tambon", []).append(tambon)
        village = (fine.filter(pl.col("village_id").is_not_null())
                   .group_by("village_id").agg(_sum_exprs(count_cols + _XY)))
        self._parts.setdefault("village", []).append(village)
        if has_cells:
            no_cell = fine["h3_r9"].is_null()
            self.n_without_cell += int(fine.filter(no_cell)["n_persons"].sum() or 0)
            located = fine.filter(~no_cell)
            # the wide sums per (cell, province of the located tambon), which is all the finish
            # needs of them; households per (cell, tambon) travel in a narrow table
            self._parts.setdefault("h3_r9", []).append(
                located.with_columns(pl.col("tambon_located").str.slice(0, 4).alias(_PROVINCE))
                .group_by("h3_r9", _PROVINCE).agg(_sum_exprs(count_cols)))
            self._parts.setdefault("h3_r9_tambon", []).append(
                located.group_by("h3_r9", "tambon_located").agg(pl.col("n_households").sum()))

    def finish(self) -> dict[str, pl.DataFrame]:
        """Per-level area tables (CONTRACT §3) with identity columns and ratios."""
        if self.spec is None:
            raise ValueError("nothing to aggregate: no person batch was added")
        spec = self.spec
        count_cols = spec.count_columns() + [_CKEY]
        sums = _sum_exprs(count_cols)
        tables: dict[str, pl.DataFrame] = {}

        tambon = (pl.concat(self._parts["tambon"]).group_by("tambon_located").agg(sums)
                  .rename({"tambon_located": "code"}))
        amphoe = (tambon.with_columns(pl.col("code").str.slice(0, 6))
                  .group_by("code").agg(sums))
        province = (amphoe.with_columns(pl.col("code").str.slice(0, 4))
                    .group_by("code").agg(sums))
        country = province.select(sums).with_columns(pl.lit(COUNTRY_CODE).alias("code"))
        # village location = mean point of its located persons (a household-weighted mean)
        village = (pl.concat(self._parts["village"]).group_by("village_id")
                   .agg(sums + _sum_exprs(_XY))
                   .with_columns((pl.col("_sum_lon") / FIXED / pl.col("_n_xy")).alias("lon"),
                                 (pl.col("_sum_lat") / FIXED / pl.col("_n_xy")).alias("lat"))
                   .with_columns(pl.when(pl.col("_n_xy") > 0).then(pl.col(c)).alias(c)
                                 for c in ("lon", "lat"))
                   .drop(_XY).rename({"village_id": "code"}))
        for level, frame, parent_len in (("country", country, None),
                                         ("province", province, 0),
                                         ("amphoe", amphoe, 4),
                                         ("tambon", tambon, 6),
                                         ("village", village, 8)):
            tables[level] = self._admin_identity(level, frame, parent_len)

        self._parts.pop("tambon", None)
        self._parts.pop("village", None)
        cells = None
        if "h3_r9" in self._parts:
            # sums per (cell, province of the located tambon); a cell's sums are theirs
            # (exact integers: the same bytes as summing the parts in any order); households
            # per (cell, tambon), which the majority province and the differencing audit
            # need, travel in a narrow table
            by_tambon = (pl.concat(self._parts.pop("h3_r9_tambon"))
                         .group_by("h3_r9", "tambon_located").agg(pl.col("n_households").sum()))
            by_province = _sum_by(pl.concat(self._parts.pop("h3_r9")), ["h3_r9", _PROVINCE],
                                  count_cols)
            cells = _sum_by(by_province, ["h3_r9"], count_cols)
            for res in reversed(H3_RESOLUTIONS):
                col = f"h3_r{res}"
                if res != 9:
                    parent = _h3_parent(pl.col(f"h3_r{res + 1}"), res).alias(col)
                    by_tambon = (by_tambon.with_columns(parent).drop(f"h3_r{res + 1}")
                                 .group_by(col, "tambon_located")
                                 .agg(pl.col("n_households").sum()))
                    by_province = (by_province.with_columns(parent).drop(f"h3_r{res + 1}")
                                   .group_by(col, _PROVINCE).agg(sums))
                    cells = _sum_by(by_province, [col], count_cols)
                tables[col] = self._cell_identity(res, cells, by_tambon)
                self.partials[col] = self._partial_identity(
                    res, by_province.filter(pl.len().over(col) > 1))
                self.cell_tambons[col] = by_tambon.sort(col, "tambon_located").select(
                    _h3_str(pl.col(col)).alias("code"), pl.col("tambon_located").alias("tambon"),
                    "n_households")
            del by_province
        del cells
        extra, extra_parts = self._present_extra(set(tables))
        for level, frame in tables.items():
            tables[level] = self._finish_counts(frame, extra.get(level), ["code"])
        for level, frame in self.partials.items():
            # sorted by province: a provincial reader gets its rows from a few row groups
            self.partials[level] = self._finish_counts(
                frame, extra_parts.get(level), ["code", "province_code"]).sort(
                    "province_code", "cell")
        return tables

    def _finish_counts(self, frame: pl.DataFrame, more: pl.DataFrame | None,
                       on: list[str]) -> pl.DataFrame:
        """Counts cast, floats back from fixed point, ``n_hh_present`` and ``ckey`` added,
        ratios computed."""
        spec = self.spec
        assert spec is not None
        count_cols = spec.count_columns()
        if more is not None:
            frame = frame.join(more, on=on, how="left")
        present = pl.col("n_households") + (pl.col("_extra").fill_null(0)
                                            if more is not None else 0)
        # Int32 holds any national count (38.6 M persons) at half the memory of Int64;
        # signed so differences between rounds cannot wrap around
        frame = frame.with_columns(
            [pl.col(c) / FIXED if c.startswith("sum_") else pl.col(c).cast(pl.Int32)
             for c in count_cols]
            + [present.cast(pl.Int32).alias("n_hh_present"),
               (pl.col(_CKEY) % CELL_KEY_MODULUS).cast(pl.Int16).alias("ckey")]
        ).drop([_CKEY] + (["_extra"] if more is not None else []))
        # H3 hex codes of one resolution have equal length: integer order = code order,
        # and sorting integers is several times cheaper than strings
        return ratios(frame, spec).sort("cell" if "cell" in frame.columns else "code")

    def _present_extra(self, levels: set[str]
                       ) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
        """Per level: ``code``, ``_extra`` = households with a member in the area but their
        first member elsewhere (so n_hh_present = n_households + _extra); and the same per
        (``code``, ``province_code``) for the parts of H3 border cells."""
        parts = self._parts.pop("split", [])
        if not parts:
            return {}, {}
        split = pl.concat(parts, how="diagonal_relaxed")
        areas: dict[str, pl.Expr] = {
            "village": pl.col("village_id"),
            "tambon": pl.col("tambon_located"),
            "amphoe": pl.col("tambon_located").str.slice(0, 6),
            "province": pl.col("tambon_located").str.slice(0, 4),
        }
        located = split.filter(pl.col("tambon_located").is_not_null())
        out: dict[str, pl.DataFrame] = {}
        out_parts: dict[str, pl.DataFrame] = {}
        if "h3_r9" in split.columns:
            for res in H3_RESOLUTIONS:
                cell = pl.col("h3_r9") if res == 9 else _h3_parent(pl.col("h3_r9"), res)
                areas[f"h3_r{res}"] = _h3_str(cell)
        province = pl.col("tambon_located").str.slice(0, 4).alias("province_code")
        for level, area in areas.items():
            if level not in levels:
                continue
            frame = located.filter(pl.col("h3_r9").is_not_null()) if level.startswith(
                "h3_") else located
            keyed = (frame.select("hh_id", area.alias("code"), province, "_first")
                     .filter(pl.col("code").is_not_null()))
            for keys, into in ((["code"], out), (["code", "province_code"], out_parts)):
                if into is out_parts and level not in self.partials:
                    continue
                pairs = keyed.group_by("hh_id", *keys).agg(pl.col("_first").any())
                into[level] = (pairs.filter(~pl.col("_first")).group_by(keys)
                               .agg(pl.len().cast(pl.Int32).alias("_extra")))
        return out, out_parts

    def _admin_identity(self, level: str, frame: pl.DataFrame,
                        parent_len: int | None) -> pl.DataFrame:
        codes = frame["code"].to_list()
        if level == "country":
            th, en = ["ประเทศไทย"], ["Thailand"]
        elif level == "village":
            th, en = [], []
            for code in codes:
                moo = int(code[-2:]) if code[-2:].isdigit() else code[-2:]
                t_th, t_en = self.names.get(code[:8], (code[:8], code[:8]))
                th.append(f"หมู่ {moo} ต.{t_th}")
                en.append(f"Moo {moo}, {t_en}")
        else:
            th = [self.names.get(c, (c, c))[0] for c in codes]
            en = [self.names.get(c, (c, c))[1] for c in codes]
        parent = (pl.lit(None, dtype=pl.String) if parent_len is None
                  else pl.lit(COUNTRY_CODE) if parent_len == 0
                  else pl.col("code").str.slice(0, parent_len))
        province = (pl.lit(None, dtype=pl.String) if level == "country"
                    else pl.col("code").str.slice(0, 4))
        ident = [pl.lit(level).alias("level"), pl.col("code"), parent.alias("parent_code"),
                 pl.Series("name_th", th, dtype=pl.String),
                 pl.Series("name_en", en, dtype=pl.String), province.alias("province_code")]
        return frame.select(ident + [c for c in frame.columns if c != "code"])

    def _cell_identity(self, res: int, cells: pl.DataFrame,
                       by_tambon: pl.DataFrame) -> pl.DataFrame:
        """One row per cell; province_code = province with most households in the cell."""
        col = f"h3_r{res}"
        count_cols = (self.spec.count_columns() if self.spec else []) + [_CKEY]
        by_province = (by_tambon.select(col, pl.col("tambon_located").str.slice(0, 4)
                                        .alias("_province"), "n_households")
                       .group_by(col, "_province").agg(pl.col("n_households").sum()))
        majority = (by_province.sort(["n_households", "_province"], descending=[True, False])
                    .group_by(col, maintain_order=True).first()
                    .select(col, pl.col("_province").alias("province_code")))
        summed = cells.join(majority, on=col, how="left")
        code = _h3_str(pl.col(col))
        parent = (pl.lit(None, dtype=pl.String) if res == H3_RESOLUTIONS[0]
                  else _h3_str(_h3_parent(pl.col(col), res - 1)))
        return summed.select(
            [pl.lit(f"h3_r{res}").alias("level"), code.alias("code"),
             parent.alias("parent_code"), code.alias("name_th"), code.alias("name_en"),
             pl.col("province_code"), pl.col(col).alias("cell")]
            + [pl.col(c) for c in count_cols])


    def _partial_identity(self, res: int, parts: pl.DataFrame) -> pl.DataFrame:
        """The (cell, province) parts of border cells with the identity columns of a cell
        row; ``province_code`` is the part's province."""
        col = f"h3_r{res}"
        count_cols = (self.spec.count_columns() if self.spec else []) + [_CKEY]
        code = _h3_str(pl.col(col))
        parent = (pl.lit(None, dtype=pl.String) if res == H3_RESOLUTIONS[0]
                  else _h3_str(_h3_parent(pl.col(col), res - 1)))
        return parts.select(
            [pl.lit(f"h3_r{res}").alias("level"), code.alias("code"),
             parent.alias("parent_code"), code.alias("name_th"), code.alias("name_en"),
             pl.col(_PROVINCE).alias("province_code"), pl.col(col).alias("cell")]
            + [pl.col(c) for c in count_cols])


def _h3_parent(expr: pl.Expr, res: int) -> pl.Expr:
    import polars_h3 as plh3

    return plh3.cell_to_parent(expr, res).cast(pl.UInt64)


def _h3_str(expr: pl.Expr) -> pl.Expr:
    import polars_h3 as plh3

    return plh3.int_to_str(expr)


def aggregate(persons: pl.DataFrame | pl.LazyFrame | Iterable[pl.DataFrame],
              *, names: Mapping[str, tuple[str, str]] | None = None) -> dict[str, pl.DataFrame]:
    """Area tables for every level from scored persons (one frame or an iterable of
    per-province frames)."""
    agg = Aggregator(names=dict(names or {}))
    if isinstance(persons, pl.DataFrame | pl.LazyFrame):
        persons = [persons]  # type: ignore[list-item]
    for batch in persons:
        agg.add(batch)
    return agg.finish()


def admin_names(hierarchy) -> dict[str, tuple[str, str]]:
    """code -> (name_th, name_en) from a :class:`service.geo.boundaries.Hierarchy`."""
    out: dict[str, tuple[str, str]] = {}
    for table in (hierarchy.provinces, hierarchy.amphoes, hierarchy.tambons):
        for code, th, en in zip(table.index, table["name_th"], table["name_en"], strict=True):
            out[str(code)] = (str(th), str(en))
    return out
