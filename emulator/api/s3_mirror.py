"""S3 durability: moto's in-memory buckets and objects mirrored to disk and reloaded at start."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_PLAIN_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-_]*")


class S3Mirror:
    """A write-through copy of moto's S3 buckets and objects on disk, reloaded at start.

    Layout: `<root>/<bucket>/bucket.json` and, per object, `objects/<sha256(key)>.json` (key,
    ETag, metadata, checksum, encryption) naming its data file `<sha256(key)>-<uuid>.data`.
    Data is written before the record that names it, each by atomic rename, so a `kill -9` at
    any point leaves the previous or the new object, never a torn one. `sync` compares ETag and
    modification time against what it wrote last, so each call writes only what changed.
    Kept: the latest version of each object. Not kept: versions, tags, ACLs, bucket settings.
    """

    def __init__(self, root: Path, account: str = "") -> None:
        self.root = root
        self.account = account
        """The account whose buckets these are (moto keeps S3 per account)."""
        self._written: dict[str, dict[str, str]] = {}

    def holds_buckets(self) -> bool:
        """Whether there is anything on disk to restore: when not, a server starts without
        loading moto (about 1 s of imports) until a request needs it."""
        return self.root.is_dir() and any(p.is_dir() for p in self.root.iterdir())

    def restore(self, backend: Any, region: str) -> None:
        """Load every mirrored bucket and object into moto's S3 backend."""
        if not self.root.is_dir():
            return
        for bucket_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            try:
                info = json.loads((bucket_dir / "bucket.json").read_text())
            except (OSError, ValueError):
                log.warning("skipping unreadable S3 mirror folder %s", bucket_dir)
                continue
            name = info["name"]
            if name not in backend.buckets:
                backend.create_bucket(name, info.get("region") or region)
            self._written[name] = {}
            for record_path in sorted((bucket_dir / "objects").glob("*.json")):
                self._restore_object(backend, name, record_path)
            _remove_orphans(bucket_dir / "objects")

    def _restore_object(self, backend: Any, bucket: str, record_path: Path) -> None:
        try:
            record = json.loads(record_path.read_text())
            value = (record_path.parent / record["data"]).read_bytes()
        except (OSError, ValueError, KeyError):
            log.warning("skipping unreadable S3 mirror record %s", record_path)
            return
        key = backend.put_object(
            bucket,
            record["key"],
            value,
            storage=record.get("storage_class"),
            etag=record.get("etag"),
            encryption=record.get("encryption"),
            kms_key_id=record.get("kms_key_id"),
            bucket_key_enabled=record.get("bucket_key_enabled"),
            checksum_value=record.get("checksum_value"),
            disable_notification=True,
        )
        key.set_metadata(record.get("metadata") or {})
        key.checksum_algorithm = record.get("checksum_algorithm")
        key.checksum_type = record.get("checksum_type")
        key.checksum_parts = record.get("checksum_parts")
        key.last_modified = datetime.fromisoformat(record["last_modified"])
        self._written[bucket][record["key"]] = _stamp(key)

    def sync(self, backend: Any) -> None:
        """Bring the disk copy up to date with moto after a write request."""
        buckets = dict(backend.buckets)
        for gone in set(self._written) - set(buckets):
            shutil.rmtree(self._bucket_dir(gone), ignore_errors=True)
            del self._written[gone]
        for name, bucket in buckets.items():
            if name not in self._written:
                self._write_bucket(name, bucket)
            self._sync_objects(name, bucket)

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self._written.clear()

    def _sync_objects(self, name: str, bucket: Any) -> None:
        from moto.s3.models import FakeKey  # noqa: PLC0415 - moto is slow to import (about 1 s): loaded on first use

        written = self._written[name]
        current = {k: v for k, v in bucket.keys.items() if isinstance(v, FakeKey)}
        for key_name in set(written) - set(current):
            _remove_object(self._bucket_dir(name) / "objects", key_name)
            del written[key_name]
        for key_name, key in current.items():
            stamp = _stamp(key)
            if written.get(key_name) != stamp:
                self._write_object(name, key)
                written[key_name] = stamp

    def _write_bucket(self, name: str, bucket: Any) -> None:
        folder = self._bucket_dir(name)
        (folder / "objects").mkdir(parents=True, exist_ok=True)
        info = {"name": name, "region": getattr(bucket, "region_name", None)}
        _atomic_write(folder / "bucket.json", json.dumps(info).encode())
        self._written[name] = {}

    def _write_object(self, bucket: str, key: Any) -> None:
        objects = self._bucket_dir(bucket) / "objects"
        stem = _key_stem(key.name)
        old = _read_record(objects / f"{stem}.json")
        data_name = f"{stem}-{uuid.uuid4().hex}.data"
        _atomic_write(objects / data_name, key.value)
        record = {
            "key": key.name,
            "data": data_name,
            "etag": key.etag.strip('"'),  # moto quotes it when read, not when given
            "last_modified": key.last_modified.isoformat(),
            "metadata": dict(key.metadata),
            "storage_class": key.storage_class,
            "encryption": key.encryption,
            "kms_key_id": key.kms_key_id,
            "bucket_key_enabled": key.bucket_key_enabled,
            "checksum_algorithm": key.checksum_algorithm,
            "checksum_value": key.checksum_value,
            "checksum_type": key.checksum_type,
            "checksum_parts": key.checksum_parts,
        }
        _atomic_write(objects / f"{stem}.json", json.dumps(record).encode())
        if old is not None:
            (objects / old["data"]).unlink(missing_ok=True)

    def _bucket_dir(self, name: str) -> Path:
        return self.root / (name if _PLAIN_BUCKET.fullmatch(name) else f"_{_key_stem(name)}")


def _stamp(key: Any) -> str:
    return f"{key.etag}|{key.last_modified.isoformat()}"


def _key_stem(key_name: str) -> str:
    return hashlib.sha256(key_name.encode()).hexdigest()


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        record: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record


def _remove_object(objects: Path, key_name: str) -> None:
    record_path = objects / f"{_key_stem(key_name)}.json"
    record = _read_record(record_path)
    record_path.unlink(missing_ok=True)
    if record is not None:
        (objects / record["data"]).unlink(missing_ok=True)


def _remove_orphans(objects: Path) -> None:
    """Data files no record names: left by a crash between writing data and its record."""
    named = {r["data"] for p in objects.glob("*.json") if (r := _read_record(p)) is not None}
    for data in objects.glob("*.data"):
        if data.name not in named:
            data.unlink(missing_ok=True)
    for temp in objects.glob("*.tmp"):
        temp.unlink(missing_ok=True)


def _atomic_write(path: Path, data: bytes) -> None:
    temp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    temp.write_bytes(data)
    temp.replace(path)
