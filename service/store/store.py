"""Versioned dataset store: Parquet/GeoParquet files + the SQL catalog (docs/CONTRACT.md §4).

Layout: ``<data_dir>/datasets/<dataset>/<version_id>/`` holds ``persons/<province>.parquet``
(scored persons), ``areas/<level>.parquet`` (area statistics) and ``version.json``.

Writes are atomic: a version is written into ``<dataset>/.building-<version_id>/``, renamed to
its final name, and only then marked ready and current in the catalog (one transaction). A
build killed at any point leaves the previous version current; the leftovers are removed by
the next build of that dataset. Builds of one dataset are serialised by a lock file.

With ``CHIPAO_DATASETS_URL`` (object storage, service.store.objstore) the finished directory
is also uploaded, manifest last, before the catalog marks it ready; the catalog row then
holds the version's URL, and every Version this store hands out has ``path`` = its verified
local copy under ``<data_dir>/datasets`` (fetched on first use).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import logging
import os
import secrets
import shutil
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import shapely

from service.errors import Conflict, InvalidInput, NotFound, StorageUnavailable
from service.settings import SettingsLike, as_settings
from service.store.catalog import Catalog, Version, validate_dataset_name
from service.store.objstore import ObjectStore, is_url
from service.vocabulary import H3_LEVELS, check_level, is_code

log = logging.getLogger(__name__)

_CACHE_BYTES = 512 * 1024 * 1024


def _check_level(level: str) -> str:
    return check_level(level)  # the one declaration (service.vocabulary), 422


class SourceAlreadyStored(Exception):
    """Raised by :meth:`Store.write_version` when another build stored the same source first."""

    def __init__(self, version: Version) -> None:
        super().__init__(f"source already stored as version {version.id}")
        self.version = version


class VersionWriter:
    """Directory a new version is written into; :meth:`publish` makes it current."""

    def __init__(self, store: Store, version_id: str, dataset: str, tmp_dir: Path,
                 final_dir: Path) -> None:
        self.store, self.id, self.dataset = store, version_id, dataset
        self.dir, self.final_dir = tmp_dir, final_dir
        self.version: Version | None = None

    def persons_path(self, province: str) -> Path:
        path = self.dir / "persons" / f"{province}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def areas_path(self, level: str) -> Path:
        path = self.dir / "areas" / f"{_check_level(level)}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def partials_path(self, level: str) -> Path:
        """The (cell, province) parts of an H3 level's border cells (Store.read_partials)."""
        path = self.dir / "partials" / f"{_check_level(level)}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _discard(self, url: str | None) -> None:
        """Remove the files of a version that will not be published (here and remote)."""
        shutil.rmtree(self.final_dir, ignore_errors=True)
        if url is not None and self.store.remote is not None:
            self.store.remote.delete(url)

    def publish(self, *, n_persons: int, n_households: int, meta: dict[str, Any],
                make_current: bool = True) -> Version:
        (self.dir / "version.json").write_text(
            json.dumps({"id": self.id, "dataset": self.dataset, **meta}, ensure_ascii=False,
                       indent=1, default=str), encoding="utf-8")
        _fsync_tree(self.dir)
        os.replace(self.dir, self.final_dir)
        _fsync_dir(self.final_dir.parent)
        remote = self.store.remote
        url = None if remote is None else remote.version_url(self.dataset, self.id)
        try:
            if remote is not None and url is not None:
                remote.upload(self.final_dir, url)  # every object before the catalog says ready
        except BaseException:
            self._discard(url)
            raise
        try:
            self.store.catalog.publish_version(self.id, n_persons=n_persons,
                                               n_households=n_households, meta=meta,
                                               make_current=make_current)
        except Conflict:
            # another process (machine) published this source first: leave no files behind
            self._discard(url)
            sha = self.store.catalog.source_of(self.id)
            winner = self.store.catalog.find_by_sha256(self.dataset, sha) if sha else None
            if winner is not None:
                raise SourceAlreadyStored(winner) from None
            raise
        self.version = self.store.local(self.store.catalog.get(self.dataset, self.id))
        log.info("dataset %s version %s published", self.dataset, self.id)
        return self.version


_LOCAL = threading.local()


def _held_locks() -> dict[str, int]:
    """Dataset lock files held by the current thread (lock path -> depth)."""
    held = getattr(_LOCAL, "held", None)
    if held is None:
        held = _LOCAL.held = {}
    return held


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    # data must be on disk before the rename makes it visible
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        else:
            _fsync_dir(path)
    _fsync_dir(root)


class Store:
    """Read and write dataset versions. Thread-safe for readers (one per app)."""

    def __init__(self, settings: SettingsLike) -> None:
        settings = as_settings(settings)
        self.settings = settings
        self.data_dir = Path(settings.data_dir).resolve()
        if is_url(settings.data_dir):
            raise InvalidInput(
                f"CHIPAO_DATA_DIR={settings.data_dir!r} must be a local directory; keep dataset "
                "versions in object storage with CHIPAO_DATASETS_URL=s3://bucket/prefix / "
                "CHIPAO_DATA_DIR ต้องเป็นโฟลเดอร์ในเครื่อง ใช้ CHIPAO_DATASETS_URL สำหรับที่เก็บ "
                "แบบออบเจกต์", column="CHIPAO_DATA_DIR")
        self.root = self.data_dir / "datasets"  # versions, or their local copies (remote)
        self.root.mkdir(parents=True, exist_ok=True)
        self.remote: ObjectStore | None = None
        if settings.datasets_url:
            self.remote = ObjectStore(settings.datasets_url,
                                      endpoint_url=settings.s3_endpoint_url)
            self.remote.check()
        self.boundaries_dir = settings.boundaries_dir
        self.catalog = Catalog(settings.database_url)
        self._cache: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
        self._cache_bytes = 0
        self._lock = threading.Lock()

    # -- catalog ---------------------------------------------------------------------------
    def datasets(self) -> list[str]:
        return self.catalog.datasets()

    def current(self, dataset: str) -> Version:
        return self.local(self.catalog.current(dataset))

    def versions(self, dataset: str, *, superseded: bool = False) -> list[Version]:
        """Released versions (one per round, newest round first): what the public, maps,
        embeds, exports and round series use. ``superseded=True``: every ready version,
        newest first (national administration, roll-back)."""
        if superseded:  # a listing: superseded versions are fetched when one is read
            return [self.local(v, fetch=False) for v in self.catalog.versions(dataset)]
        return [self.local(v) for v in self.catalog.released(dataset)]

    def released_of_round(self, dataset: str, round: int) -> Version | None:
        """The released version of one round (None when the round has none)."""
        found = self.catalog.released_of_round(dataset, round)
        return None if found is None else self.local(found)

    def version(self, dataset: str, version: str | None = None) -> Version:
        """The named version, or the current one when ``version`` is None."""
        return self.current(dataset) if version is None else \
            self.local(self.catalog.get(dataset, version))

    def local(self, version: Version, *, fetch: bool = True) -> Version:
        """``version`` with ``path`` = its directory on this machine: a version kept in
        object storage is fetched (verified against its manifest) on first use. Versions
        handed out by this store are already local; the catalog's own hold the URL."""
        if not is_url(version.path):
            return version
        local = self.root / version.dataset / version.id
        if fetch and not local.is_dir():
            if self.remote is None:
                raise StorageUnavailable(
                    f"version {version.id} of {version.dataset!r} is kept in object storage "
                    f"({version.path}); set CHIPAO_DATASETS_URL (and CHIPAO_S3_ENDPOINT_URL) "
                    "as on the machine that built it / รุ่นข้อมูลนี้อยู่ในที่เก็บแบบออบเจกต์ "
                    "ต้องตั้งค่า CHIPAO_DATASETS_URL")
            self.remote.fetch(version.path, local)
        return dataclasses.replace(version, path=str(local))

    # -- writing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def write_version(self, dataset: str, *, round: int, source_sha256: str
                      ) -> Iterator[VersionWriter]:
        """Context for writing a new version; call ``writer.publish(...)`` inside it.

        On an exception (or without publish) the version is marked failed and its files are
        removed; the previous version stays current. Raises :class:`SourceAlreadyStored` when
        a ready version of this dataset already has ``source_sha256``.
        """
        validate_dataset_name(dataset)
        base = self.root / dataset
        base.mkdir(parents=True, exist_ok=True)
        with self.dataset_lock(dataset):
            # checked again under the lock: two imports of one file at once store it once
            existing = self.catalog.find_by_sha256(dataset, source_sha256)
            if existing is not None:
                raise SourceAlreadyStored(existing)
            self._clean_stale(dataset)
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
            version_id = f"r{int(round)}-{stamp}-{secrets.token_hex(3)}"
            tmp_dir = base / f".building-{version_id}"
            final_dir = base / version_id
            location = str(final_dir) if self.remote is None else \
                self.remote.version_url(dataset, version_id)
            self.catalog.begin_version(version_id=version_id, dataset=dataset, round=round,
                                       source_sha256=source_sha256, path=location)
            tmp_dir.mkdir()
            writer = VersionWriter(self, version_id, dataset, tmp_dir, final_dir)
            try:
                yield writer
                if writer.version is None:
                    raise RuntimeError(f"version {version_id} was written but not published")
            except BaseException as exc:
                self.catalog.fail_version(version_id, f"{type(exc).__name__}: {exc}")
                shutil.rmtree(tmp_dir, ignore_errors=True)
                raise

    @contextlib.contextmanager
    def dataset_lock(self, dataset: str) -> Iterator[None]:
        """Exclusive lock of one dataset's writes (processes and threads), re-entrant in the
        thread holding it: an upload takes it around carry-over, build and publish, and the
        build's :meth:`write_version` inside runs under the same lock."""
        lock_path = self.root / validate_dataset_name(dataset) / ".lock"
        held = _held_locks()
        key = str(lock_path)
        if key in held:
            held[key] += 1
            try:
                yield
            finally:
                held[key] -= 1
            return
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            held[key] = 1
            try:
                # and across machines sharing the catalog (PostgreSQL advisory lock)
                with self.catalog.build_lock(dataset):
                    yield
            finally:
                del held[key]
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _clean_stale(self, dataset: str) -> None:
        """Remove what an interrupted build left (called under the dataset lock)."""
        base = self.root / dataset
        for stale in self.catalog.stale_builds(dataset):
            log.warning("dataset %s: removing interrupted build %s", dataset, stale.id)
            self.catalog.fail_version(stale.id, "interrupted")
            if is_url(stale.path):  # objects a killed publish left (never marked ready)
                if self.remote is not None:
                    self.remote.delete(stale.path)
                shutil.rmtree(base / stale.id, ignore_errors=True)
            else:
                shutil.rmtree(stale.path, ignore_errors=True)
        for tmp in base.glob(".building-*"):
            shutil.rmtree(tmp, ignore_errors=True)

    # -- reading ---------------------------------------------------------------------------
    def version_dir(self, dataset: str, version: str | None = None) -> Path:
        return Path(self.version(dataset, version).path)

    def read_areas(self, dataset: str, level: str, *, version: str | None = None,
                   province: str | None = None, columns: Sequence[str] | None = None
                   ) -> pd.DataFrame:
        """Area statistics of one level (CONTRACT §3), optionally of one province only.

        Unsuppressed: callers serving the public must pass the result through
        :func:`service.analysis.disclosure.suppress`.
        """
        return self._read_table(self._areas_path(dataset, level, version), province, columns)

    def read_partials(self, dataset: str, level: str, *, version: str | None = None,
                      province: str | None = None) -> pd.DataFrame | None:
        """The parts of the border cells of an H3 level (cells holding persons located in
        more than one province): one row per (cell, province) with the level's counts and
        ratios, ``province_code`` = the part's province (optionally of one province only).
        What a provincial user sees of a border cell in detail (service.access.views).
        None for a version built before parts were stored (see :meth:`border_codes`)."""
        _check_level(level)
        path = self.version_dir(dataset, version) / "partials" / f"{level}.parquet"
        if level not in H3_LEVELS or not path.exists():
            return None
        return self._read_table(path, province, None)

    def border_codes(self, dataset: str, level: str, *, version: str | None = None,
                     province: str | None = None) -> set[str]:
        """Border cells of an H3 level holding households of ``province`` (or of any),
        from the build's audit table: for versions without :meth:`read_partials`, whose
        border cells no provincial user may see in detail."""
        path = self.version_dir(dataset, version) / "audit" / f"cell_tambons_{level}.parquet"
        if level not in H3_LEVELS or not path.exists():
            return set()
        key = ("border", str(path), province)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            frame = pd.read_parquet(path, columns=["code", "tambon"])
            frame["province"] = frame["tambon"].astype(str).str[:4]
            spread = frame.groupby("code")["province"].transform("nunique") > 1
            border = frame[spread]
            if province is not None:
                border = border[border["province"] == province]
            cached = pd.DataFrame({"code": sorted(set(border["code"]))})
            with self._lock:
                self._cache[key] = cached
        return set(cached["code"])

    def _read_table(self, path: Path, province: str | None,
                    columns: Sequence[str] | None) -> pd.DataFrame:
        key = (str(path), province, tuple(columns) if columns else None)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key].copy()
        filters = [("province_code", "=", province)] if province else None
        frame = pq.read_table(path, filters=filters,
                              columns=list(columns) if columns else None).to_pandas()
        size = int(frame.memory_usage(deep=True).sum())
        if size < _CACHE_BYTES // 4:
            with self._lock:
                self._cache[key] = frame
                self._cache_bytes += size
                while self._cache_bytes > _CACHE_BYTES and self._cache:
                    _, old = self._cache.popitem(last=False)
                    self._cache_bytes -= int(old.memory_usage(deep=True).sum())
        return frame.copy()

    def area_columns(self, dataset: str, level: str, *, version: str | None = None
                     ) -> list[str]:
        """Column names of a level's area table (read from the Parquet footer only)."""
        return list(pq.read_schema(self._areas_path(dataset, level, version)).names)

    def area_provinces(self, dataset: str, level: str, *, column: str, value: str,
                       version: str | None = None) -> list[str]:
        """Provinces holding the rows of ``level`` whose ``column`` equals ``value``.

        Only ``province_code`` of the matching rows is materialised (national H3 r9: about
        0.3 s and a few MB instead of a 2.4-million-row index), so a caller can then read
        just those provinces."""
        table = pq.read_table(self._areas_path(dataset, level, version),
                              columns=["province_code"], filters=[(column, "=", value)])
        return sorted(p for p in set(table.column("province_code").to_pylist()) if p)

    def _areas_path(self, dataset: str, level: str, version: str | None) -> Path:
        _check_level(level)
        path = self.version_dir(dataset, version) / "areas" / f"{level}.parquet"
        if not path.exists():
            raise NotFound(f"level {level} was not computed for dataset {dataset!r} "
                           f"/ ไม่มีข้อมูลระดับ {level}")
        return path

    def read_persons(self, dataset: str, province: str, *, version: str | None = None
                     ) -> pl.DataFrame:
        """Scored persons of one province (household-level data: audit every call)."""
        if not is_code("province", province):
            raise InvalidInput(f"not a province code: {province!r} / รหัสจังหวัดไม่ถูกต้อง",
                               column="province")
        path = self.version_dir(dataset, version) / "persons" / f"{province}.parquet"
        if not path.exists():
            raise NotFound(f"dataset {dataset!r} has no persons in {province} "
                           f"/ ไม่มีข้อมูลรายบุคคลของจังหวัด {province}")
        return pl.read_parquet(path)

    def area_geometries(self, level: str, codes: Sequence[str] | None = None, *,
                        dataset: str | None = None, version: str | None = None
                        ) -> gpd.GeoDataFrame:
        """Geometries of areas: admin boundaries, village household-centroid points (needs
        ``dataset``), H3 cell polygons. Returns code + geometry (EPSG:4326)."""
        _check_level(level)
        wanted = None if codes is None else list(dict.fromkeys(codes))
        if level in ("province", "amphoe", "tambon"):
            from service.geo.boundaries import load_level

            frame = load_level(self.boundaries_dir, level)[["code", "geometry"]]
            if wanted is not None:
                frame = frame[frame["code"].isin(wanted)]
            return frame.reset_index(drop=True)
        if level == "country":
            return gpd.GeoDataFrame({"code": ["TH"]}, geometry=[self._country_geometry()],
                                    crs="EPSG:4326")
        if level in H3_LEVELS:
            if wanted is None:
                raise InvalidInput("H3 geometries need a list of cell codes", column="codes")
            return _cell_polygons(wanted)
        # village: centroid of its surveyed households
        if dataset is None:
            raise InvalidInput("village geometries need the dataset", column="dataset")
        areas = self.read_areas(dataset, "village", version=version,
                                columns=["code", "lon", "lat"])
        if wanted is not None:
            areas = areas[areas["code"].isin(wanted)]
        areas = areas.dropna(subset=["lon", "lat"])
        return gpd.GeoDataFrame({"code": areas["code"].to_numpy()},
                                geometry=shapely.points(areas["lon"].to_numpy(),
                                                        areas["lat"].to_numpy()),
                                crs="EPSG:4326")

    def _country_geometry(self):
        with self._lock:
            cached = self._cache.get(("country-geometry",))
        if cached is not None:
            return cached["geometry"].iloc[0]
        from service.geo.boundaries import load_level

        geom = shapely.union_all(load_level(self.boundaries_dir, "province").geometry.values)
        with self._lock:
            self._cache[("country-geometry",)] = pd.DataFrame({"geometry": [geom]})
        return geom


def _cell_polygons(codes: list[str]) -> gpd.GeoDataFrame:
    try:
        from service.geo.hexgrid import cell_polygons, to_int
    except ImportError:  # spatial module not installed yet: build them with h3 directly
        import h3

        polys = [shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)])
                 for c in codes]
        return gpd.GeoDataFrame({"code": codes}, geometry=polys, crs="EPSG:4326")
    return cell_polygons(to_int(codes))


def open_store(settings: SettingsLike) -> Store:
    """The store of these settings (data_dir, database_url, boundaries_dir)."""
    settings = as_settings(settings)
    return Store(settings)


def compare_versions(store: Store, dataset: str, old: str, new: str, level: str, *,
                     province: str | None = None) -> pd.DataFrame:
    """Change between two versions (rounds) per area: m0, n_poor, coverage per programme.

    Areas present in only one version are kept (the other side is null).
    """
    cols_old = store.read_areas(dataset, level, version=old, province=province)
    cols_new = store.read_areas(dataset, level, version=new, province=province)
    measures = ["n_households", "n_persons", "n_poor", "h", "m0", "n_deprived_any",
                "n_target_poor"]
    measures += sorted(c for c in cols_new.columns if c.startswith("cov_")
                       and c in cols_old.columns)
    measures = [m for m in measures if m in cols_old.columns and m in cols_new.columns]
    ident = [c for c in ("code", "name_th", "name_en", "province_code") if c in cols_new]
    merged = cols_old[["code"] + measures].merge(
        cols_new[ident + measures], on="code", how="outer", suffixes=("_old", "_new"))
    for m in measures:
        merged[f"d_{m}"] = merged[f"{m}_new"] - merged[f"{m}_old"]
    ordered = ident + [f"{m}_{s}" for m in measures for s in ("old", "new")] + \
        [f"d_{m}" for m in measures]
    return merged[ordered].sort_values("code").reset_index(drop=True)
