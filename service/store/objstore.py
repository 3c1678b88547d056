"""Dataset versions in object storage (``CHIPAO_DATASETS_URL=s3://bucket/prefix``, fsspec).

Versions are still built in a local directory. Publishing uploads the finished directory
object by object to ``<url>/<dataset>/<version_id>/`` and writes ``manifest.json`` (every
file's size and SHA-256) last; only after that does :class:`service.store.store.Store` mark the
version ready in the catalog. The catalog database is the single source of truth of "ready"
and "current", so a half-uploaded version (a publisher killed midway) is never visible: its
row stays ``building`` and the next build of the dataset deletes its objects.

A server (or a build on another machine) fetches a ready version once into its local copy
``<data_dir>/datasets/<dataset>/<version_id>``: every object is downloaded into a private
directory and checked against the manifest, and the directory is renamed into place only when
all of them match, so a partial or damaged fetch is never served. Roll-back and release
follow the catalog: the local copies are caches of immutable versions.

Any fsspec URL works (``s3://`` needs s3fs: ``pip install 'chipao[s3]'``); the S3 endpoint
of an S3-compatible store is ``CHIPAO_S3_ENDPOINT_URL``; credentials come from the usual
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (or ``AWS_PROFILE``), never from settings.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from service.errors import ChipaoError, StorageUnavailable

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
_S3 = ("s3", "s3a")
_HINT = ("check CHIPAO_DATASETS_URL, CHIPAO_S3_ENDPOINT_URL and the credentials "
         "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) / ตรวจสอบ CHIPAO_DATASETS_URL, "
         "CHIPAO_S3_ENDPOINT_URL และรหัสเข้าใช้ (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")


def is_url(path: str) -> bool:
    """True for an object-storage location (``s3://...``), False for a local path."""
    return "://" in str(path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ObjectStore:
    """The versions under one object-storage URL (thread-safe: fsspec filesystems are)."""

    def __init__(self, url: str, *, endpoint_url: str = "") -> None:
        if not is_url(url):
            raise StorageUnavailable(
                f"CHIPAO_DATASETS_URL={url!r} is not a URL such as s3://bucket/chipao (a shared "
                "directory is CHIPAO_DATA_DIR on NFS) / CHIPAO_DATASETS_URL ต้องเป็น URL เช่น "
                "s3://bucket/chipao")
        import fsspec

        self.url = url.rstrip("/")
        protocol = self.protocol = self.url.split("://", 1)[0]
        options: dict[str, Any] = {}
        if protocol in _S3:
            # every read asks the store (no stale listings); fail fast on a wrong endpoint
            options = {"use_listings_cache": False, "skip_instance_cache": True,
                       "config_kwargs": {"connect_timeout": 5, "read_timeout": 60,
                                         "retries": {"max_attempts": 2}}}
            if endpoint_url:
                options["endpoint_url"] = endpoint_url
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url, **options)
        except ImportError as exc:
            raise StorageUnavailable(
                f"{protocol}:// storage needs its fsspec driver ({exc.name or exc}): pip install "
                f"'chipao[s3]' / ต้องติดตั้งไลบรารีสำหรับที่เก็บ {protocol}:// ก่อน") from exc
        self.root = self.root.rstrip("/")
        self.endpoint_url = endpoint_url

    # -- locations -------------------------------------------------------------------------
    def version_url(self, dataset: str, version_id: str) -> str:
        return f"{self.url}/{dataset}/{version_id}"

    def _key(self, url: str) -> str:
        if not url.startswith(self.url + "/"):
            raise StorageUnavailable(
                f"version location {url} is outside CHIPAO_DATASETS_URL={self.url} (was the "
                f"setting changed?) / รุ่นข้อมูลอยู่นอกที่เก็บที่ตั้งค่าไว้")
        return self.root + url[len(self.url):]

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Any driver error (wrong endpoint, bucket or credentials) as one clear error."""
        try:
            yield
        except ChipaoError:
            raise
        except Exception as exc:
            where = f" at {self.endpoint_url}" if self.endpoint_url else ""
            en, _, th = action.partition(" / ")
            raise StorageUnavailable(
                f"ใช้ที่เก็บข้อมูลแบบออบเจกต์ไม่ได้ ({th or en}) · object storage {self.url}{where}: "
                f"{en} failed ({_reason(exc)}); {_HINT}") from exc

    def check(self) -> None:
        """Reach the store once (bucket and credentials), so a wrong setting is reported
        when a server or build starts, not at its first read."""
        with self._errors("listing the bucket / อ่านรายการในที่เก็บ"):
            if self.protocol in _S3:
                self.fs.ls(self.root.split("/", 1)[0])  # missing bucket, refused credentials
            else:
                self.fs.makedirs(self.root, exist_ok=True)
                self.fs.ls(self.root)

    # -- publishing ------------------------------------------------------------------------
    def upload(self, local: Path, url: str) -> dict[str, Any]:
        """Upload a finished version directory, ``manifest.json`` last; returns the manifest.
        A version without its manifest is incomplete and is never fetched."""
        key = self._key(url)
        files = sorted(p for p in local.rglob("*") if p.is_file())
        manifest: dict[str, Any] = {"files": {}}
        with self._errors("uploading a version / อัปโหลดรุ่นข้อมูล"):
            for path in files:
                rel = path.relative_to(local).as_posix()
                manifest["files"][rel] = {"size": path.stat().st_size, "sha256": _sha256(path)}
                self.fs.put_file(str(path), f"{key}/{rel}")
            self.fs.pipe_file(f"{key}/{MANIFEST}",
                              json.dumps(manifest, indent=1, sort_keys=True).encode())
        log.info("uploaded %d objects to %s", len(files) + 1, url)
        return manifest

    def delete(self, url: str) -> None:
        """Remove a version's objects (an interrupted or losing publish); best effort."""
        try:
            with self._errors("deleting a version / ลบรุ่นข้อมูล"):
                key = self._key(url)
                if self.fs.exists(key):
                    self.fs.rm(key, recursive=True)
        except StorageUnavailable as exc:
            log.warning("could not delete %s: %s", url, exc)

    # -- fetching --------------------------------------------------------------------------
    def fetch(self, url: str, local: Path) -> Path:
        """The verified local copy of the ready version at ``url`` (fetched once per machine:
        processes and threads wait for one another; the copy appears complete or not at all)."""
        if local.is_dir():
            return local
        local.parent.mkdir(parents=True, exist_ok=True)
        with open(local.parent / f".fetch-{local.name}.lock", "a+") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                if not local.is_dir():
                    self._fetch(url, local)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        return local

    def _fetch(self, url: str, local: Path) -> None:
        key = self._key(url)
        tmp = local.parent / f".fetching-{local.name}-{secrets.token_hex(4)}"
        try:
            with self._errors("reading a version / อ่านรุ่นข้อมูล"):
                try:
                    manifest = json.loads(self.fs.cat_file(f"{key}/{MANIFEST}"))
                except FileNotFoundError:
                    raise StorageUnavailable(
                        f"version {url} has no {MANIFEST}: its upload did not finish, or its "
                        f"objects were removed / รุ่นข้อมูลนี้อัปโหลดไม่ครบ") from None
                for rel, want in sorted(manifest["files"].items()):
                    parts = PurePosixPath(rel).parts
                    if not parts or ".." in parts or rel.startswith("/"):
                        raise StorageUnavailable(f"version {url}: bad object name {rel!r}")
                    target = tmp.joinpath(*parts)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    self.fs.get_file(f"{key}/{rel}", str(target))
                    size = target.stat().st_size
                    if size != want["size"] or _sha256(target) != want["sha256"]:
                        raise StorageUnavailable(
                            f"version {url}: object {rel} differs from the manifest ({size:,} "
                            f"bytes, {want['size']:,} expected): not served / ไฟล์ {rel} ของ"
                            f"รุ่นข้อมูลไม่ตรงกับรายการตรวจสอบ จึงไม่นำมาใช้")
            for path in sorted(tmp.rglob("*"), reverse=True):
                if path.is_file():
                    with open(path, "rb") as fh:
                        os.fsync(fh.fileno())
            os.rename(tmp, local)
            log.info("fetched %d objects of %s", len(manifest["files"]), url)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
