"""S3 client (MinIO SDK against any S3 server). The SDK blocks: call it via `asyncio.to_thread`."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta

from minio import Minio
from minio.error import S3Error


class ObjectStore:
    """The few S3 operations the services use, awaited without blocking the event loop."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, *, secure: bool, bucket: str) -> None:
        endpoint = endpoint.removeprefix("http://").removeprefix("https://")
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure)
        self.bucket = bucket

    async def ensure_bucket(self) -> None:
        def _ensure() -> None:
            if not self.client.bucket_exists(self.bucket):
                try:
                    self.client.make_bucket(self.bucket)
                except S3Error as exc:
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise

        await asyncio.to_thread(_ensure)

    async def ping(self) -> bool:
        try:
            await asyncio.to_thread(self.client.bucket_exists, self.bucket)
            return True
        except Exception:
            return False

    async def put_bytes(self, key: str, data: bytes, content_type: str, metadata: dict[str, str] | None = None) -> None:
        await asyncio.to_thread(
            self.client.put_object,
            self.bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type,
            metadata=metadata,  # type: ignore[arg-type]
        )

    async def get_bytes(self, key: str) -> bytes:
        def _get() -> bytes:
            response = self.client.get_object(self.bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return await asyncio.to_thread(_get)

    async def exists(self, key: str) -> bool:
        def _stat() -> bool:
            try:
                self.client.stat_object(self.bucket, key)
                return True
            except S3Error as exc:
                if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                    return False
                raise

        return await asyncio.to_thread(_stat)

    async def presigned_get(self, key: str, expires: timedelta) -> str:
        return await asyncio.to_thread(self.client.presigned_get_object, self.bucket, key, expires)
