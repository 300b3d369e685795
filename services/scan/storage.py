"""S3 adapter for documents (MinIO SDK against any S3 server, e.g. SeaweedFS).

The SDK blocks: every call goes through `asyncio.to_thread`. Files are uploaded from disk with
the SDK's multipart put (fixed part size, bounded parallelism), so memory does not grow with
the file. Failures of the S3 server surface as `Unavailable` (`storage_unavailable`, HTTP 503)
after a short, bounded retry — never as a hang.

Signed URLs can be minted for a public S3 endpoint (`MOTCUA_SCAN_S3_PUBLIC_ENDPOINT`) different
from the internal one: the signature covers the host the browser will use.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import urllib3
from minio import Minio
from minio.error import S3Error
from urllib3.exceptions import HTTPError as Urllib3Error

from services.scan.model import Unavailable

_MISSING = ("NoSuchKey", "NoSuchObject", "NotFound", "NoSuchBucket")
PART_SIZE = 8 * 1024 * 1024
PARALLEL_PARTS = 2


def _http_client(timeout_s: float) -> urllib3.PoolManager:
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=3.0, read=timeout_s),
        maxsize=8,
        retries=urllib3.Retry(total=2, connect=2, read=1, backoff_factor=0.2,
                              status_forcelist=[500, 502, 503, 504]),
    )


def _unavailable(exc: Exception) -> Unavailable:
    return Unavailable("Document storage (S3) is unavailable; nothing was stored, try again shortly",
                       code="storage_unavailable", details={"cause": type(exc).__name__})


class DocumentStore:
    """The S3 operations scan needs, awaited without blocking the event loop."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, *, secure: bool, bucket: str,
                 public_endpoint: str = "", public_secure: bool | None = None, region: str = "us-east-1",
                 timeout_s: float = 60.0) -> None:
        def client(url: str, tls: bool) -> Minio:
            host = url.removeprefix("http://").removeprefix("https://")
            return Minio(host, access_key=access_key, secret_key=secret_key, secure=tls, region=region,
                         http_client=_http_client(timeout_s))

        self.bucket = bucket
        self.client = client(endpoint, secure)
        self.signer = (client(public_endpoint, secure if public_secure is None else public_secure)
                       if public_endpoint else self.client)

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except S3Error as exc:
            if exc.code in _MISSING:
                raise
            raise _unavailable(exc) from exc
        except (Urllib3Error, OSError) as exc:
            raise _unavailable(exc) from exc

    async def ping(self) -> bool:
        """Readiness: the bucket answers (short retries, unlike the SDK's default client)."""
        try:
            return bool(await self._call(self.client.bucket_exists, self.bucket))
        except Exception:
            return False

    async def exists(self, key: str) -> bool:
        try:
            await self._call(self.client.stat_object, self.bucket, key)
            return True
        except S3Error as exc:
            if exc.code in _MISSING:
                return False
            raise

    async def put_file(self, key: str, path: Path, content_type: str, metadata: dict[str, str]) -> None:
        await self._call(
            self.client.fput_object, self.bucket, key, str(path),
            content_type=content_type, metadata=metadata, part_size=PART_SIZE,
            num_parallel_uploads=PARALLEL_PARTS,
        )

    async def put_bytes(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> None:
        await self._call(self.client.put_object, self.bucket, key, io.BytesIO(data), len(data),
                         content_type=content_type, metadata=metadata)

    async def remove(self, key: str) -> None:
        try:
            await self._call(self.client.remove_object, self.bucket, key)
        except S3Error as exc:
            if exc.code not in _MISSING:
                raise

    async def presign(self, key: str, ttl: timedelta, *, filename: str, content_type: str,
                      inline: bool = False) -> str:
        disposition = "inline" if inline else "attachment"
        headers = {
            "response-content-type": content_type,
            "response-content-disposition": f'{disposition}; filename="{filename}"',
        }
        url: str = await self._call(self.signer.presigned_get_object, self.bucket, key, ttl,
                                    response_headers=headers)
        return url
