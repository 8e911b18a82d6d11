"""Where image bytes live: a local folder or an S3-compatible bucket, behind one small protocol.

`TOD_MEDIA_URL` chooses: `file:PATH` (relative to the working directory, like the SQLite
default) or `s3://BUCKET[/PREFIX]?endpoint=http://127.0.0.1:9000&region=eu-north-1`; the S3
credentials come from the standard AWS variables (`AWS_ACCESS_KEY_ID`, ...), never the URL.
Keys are content-addressed and written once, so a write never changes what a reader sees.
"""

import errno
import os
import re
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from app.config import get_settings

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_.-]*)*$")


class MissingObject(Exception):
    """No object under that key."""


class StorageFull(Exception):
    """The media storage has no room (ENOSPC, a quota): nothing of the photo was kept, and the
    request that wrote it is answered 503 (app/main.py) and rolled back."""


NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT})


class Storage(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None:
        """Remove the object; removing one that is not there is not an error."""

    def exists(self, key: str) -> bool: ...

    def keys(self, prefix: str = "") -> Iterator[str]: ...


def check_key(key: str) -> str:
    # Keys are made by app.media.service from ids and hashes; anything else is a bug (or an
    # attempt to leave the folder), so refuse it rather than normalising it.
    if not KEY_RE.match(key) or ".." in key:
        raise ValueError(f"bad media key: {key!r}")
    return key


class LocalStorage:
    """A folder outside static/: files are only ever served through the access-checked route."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write a temporary file beside it and rename: a reader never sees half a file, and a
        # crash leaves at most a temp file, never a truncated image under a real key.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno in NO_ROOM:
                raise StorageFull(key) from exc
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise MissingObject(key) from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def keys(self, prefix: str = "") -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            if path.is_file():
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key


class S3Storage:
    """An S3-compatible bucket (AWS, MinIO, Ceph, SeaweedFS ...) with path-style addressing."""

    def __init__(self, bucket: str, *, prefix: str = "", client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client

    @classmethod
    def from_url(cls, url: str) -> "S3Storage":
        import boto3
        from botocore.config import Config

        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        session = boto3.session.Session()
        client = session.client(
            "s3",
            endpoint_url=query.get("endpoint") or None,
            region_name=query.get("region") or None,
            config=Config(
                s3={"addressing_style": "path"},
                signature_version="s3v4",
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
            ),
        )
        return cls(parts.netloc, prefix=parts.path, client=client)

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        # A PUT is atomic in S3: the object appears whole or not at all.
        self.client.put_object(
            Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type
        )

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey as exc:
            raise MissingObject(key) from exc
        body: bytes = response["Body"].read()
        return body

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def keys(self, prefix: str = "") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for obj in page.get("Contents", []):
                yield obj["Key"][len(self.prefix) :]


@lru_cache(maxsize=8)
def storage_for(url: str) -> Storage:
    """One storage object per URL and process (a boto3 client is costly to make, and thread-safe)."""
    if url.startswith("file:"):
        path = Path(url.removeprefix("file:").removeprefix("//"))
        return LocalStorage(path if path.is_absolute() else Path.cwd() / path)
    if url.startswith("s3://"):
        return S3Storage.from_url(url)
    raise ValueError("TOD_MEDIA_URL must start with file: or s3://")


def get_storage() -> Storage:
    return storage_for(get_settings().media_url)
