"""Streaming multipart parsing: files go to disk chunk by chunk, limits apply while reading."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.scan.model import Rejected, ScanLimits, TooLarge, UnsupportedType
from services.scan.upload import spool_multipart
from tests.unit.scan import scan_samples as samples


def _body(files: list[tuple[str, bytes]], data: dict[str, str]) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://x/", files=[("files", (n, d)) for n, d in files], data=data)
    return request.read(), request.headers["content-type"]


class Chunks:
    """The body in small chunks, counting how many were consumed."""

    def __init__(self, body: bytes, size: int = 1000) -> None:
        self.parts = [body[i:i + size] for i in range(0, len(body), size)]
        self.consumed = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            self.consumed += 1
            yield part


async def test_fields_and_files_are_spooled_with_their_hash(tmp_path: Path) -> None:
    jpeg, png = samples.jpeg(), samples.png()
    body, content_type = _body([("a.jpg", jpeg), ("ảnh 2.png", png)], {"unit_path": "91001,91", "owner_id": "x"})
    form = await spool_multipart(Chunks(body), content_type, len(body), ScanLimits(), tmp_path)
    assert form.fields == {"unit_path": "91001,91", "owner_id": "x"}
    assert [f.filename for f in form.files] == ["a.jpg", "ảnh 2.png"]
    assert form.files[0].path.read_bytes() == jpeg and form.files[1].path.read_bytes() == png
    assert form.files[0].sha256 == hashlib.sha256(jpeg).hexdigest() and form.files[1].size == len(png)
    assert form.files[1].head == png[:1024]


async def test_an_oversize_file_is_refused_before_the_body_is_read(tmp_path: Path) -> None:
    body, content_type = _body([("big.pdf", samples.random_bytes(60_000))], {"owner_id": "x"})
    chunks = Chunks(body)
    with pytest.raises(TooLarge) as err:
        await spool_multipart(chunks, content_type, None, ScanLimits(max_file_bytes=10_000), tmp_path)
    assert err.value.code == "file_too_large"
    assert chunks.consumed < len(chunks.parts) / 2


async def test_request_size_is_checked_from_the_header_and_while_reading(tmp_path: Path) -> None:
    body, content_type = _body([("a.pdf", samples.random_bytes(5000))], {})
    limits = ScanLimits(max_request_bytes=2000)
    with pytest.raises(TooLarge) as err:
        await spool_multipart(Chunks(body), content_type, len(body), limits, tmp_path)
    assert err.value.code == "request_too_large"
    with pytest.raises(TooLarge):  # a lying or missing Content-Length does not help
        await spool_multipart(Chunks(body), content_type, None, limits, tmp_path)


async def test_too_many_files(tmp_path: Path) -> None:
    body, content_type = _body([(f"{i}.png", samples.png()) for i in range(4)], {})
    with pytest.raises(Rejected) as err:
        await spool_multipart(Chunks(body), content_type, None, ScanLimits(max_pages=3), tmp_path)
    assert err.value.code == "too_many_files"


async def test_not_multipart_and_truncated_bodies(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedType) as err:
        await spool_multipart(Chunks(b"{}"), "application/json", 2, ScanLimits(), tmp_path)
    assert err.value.code == "multipart_required"
    body, content_type = _body([("a.png", samples.png())], {})
    with pytest.raises(Rejected) as rejected:
        await spool_multipart(Chunks(body[: len(body) // 2]), content_type, None, ScanLimits(), tmp_path)
    assert rejected.value.code == "invalid_form"


async def test_other_file_fields_are_ignored_and_long_fields_refused(tmp_path: Path) -> None:
    request = httpx.Request("POST", "http://x/", files=[("other", ("x.bin", b"abc")), ("files", ("a.png", b"p"))])
    body = request.read()
    form = await spool_multipart(Chunks(body), request.headers["content-type"], None, ScanLimits(), tmp_path)
    assert [f.field for f in form.files] == ["files"]
    body, content_type = _body([("a.png", b"p")], {"note": "x" * 20_000})
    with pytest.raises(Rejected) as err:
        await spool_multipart(Chunks(body), content_type, None, ScanLimits(), tmp_path)
    assert err.value.code == "invalid_form"


async def test_fields_are_checked_as_they_arrive_before_the_files(tmp_path: Path) -> None:
    body, content_type = _body([("a.pdf", samples.random_bytes(50_000))], {"unit_path": "92001,92"})
    chunks = Chunks(body)

    def refuse(name: str, value: str) -> None:
        if name == "unit_path":
            raise Rejected("not your unit", code="unit_not_allowed")

    with pytest.raises(Rejected):
        await spool_multipart(chunks, content_type, None, ScanLimits(), tmp_path, on_field=refuse)
    assert chunks.consumed < len(chunks.parts) / 2
