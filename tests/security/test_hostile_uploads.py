"""Hostile uploads through scan's HTTP API, beyond tests/integration/test_scan_api.py (which
covers encrypted, corrupt and empty PDFs, text renamed .pdf, oversize files, too many pages):
decompression bombs, lying image headers, spoofed types, PDF page-count and image bombs.
Each is refused cleanly (a 4xx with the error envelope) or, when the file is a valid document,
stored without decoding the bomb — and always quickly.
"""

from __future__ import annotations

import functools
import io
import struct
import time
import uuid
import zlib

import pytest
from PIL import Image

from services.kit.auth import Role
from tests.security.apps import Running
from tests.support import auth, dossier_code
from tests.unit.scan import scan_samples

pytestmark = pytest.mark.integration

OFFICER = auth(Role.RECEPTION_OFFICER, unit_code="30307")
FORM = {"unit_path": "30307,91", "owner_id": "089203004567"}


def _code() -> str:
    return dossier_code("000.01.30.H01", "261124")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@functools.cache
def png_bomb(side: int = 50_000) -> bytes:
    """A 1-bit greyscale PNG of side² pixels (2.5 gigapixels): ~300 MB decoded, ~300 kB on the wire."""
    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + (side + 7) // 8)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def jpeg_with_lying_size() -> bytes:
    """A small JPEG whose frame header claims 65 000 × 65 000 pixels."""
    data = bytearray(scan_samples.jpeg(text=uuid.uuid4().hex))
    at = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, at + 5, 65_000, 65_000)
    return bytes(data)


def _pdf(objects: list[bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def pdf_image_bomb(side: int = 9_000) -> bytes:
    """One page holding one greyscale image of side² pixels (81 MB decoded, ~80 kB compressed)."""
    packer = zlib.compressobj(9)
    row = b"\x80" * side
    stream = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    content = b"q 612 0 0 612 0 0 cm /Im0 Do Q"
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 612] /Contents 4 0 R "
        b"/Resources << /XObject << /Im0 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 "
        b"/Filter /FlateDecode /Length %d >>\nstream\n" % (side, side, len(stream)) + stream + b"\nendstream",
    ])


def pdf_claiming_many_pages() -> bytes:
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 10000000 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ])


def pdf_with_a_page_tree_loop() -> bytes:
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 2 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
    ])


SVG_WITH_SCRIPT = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
HTML = b"<!doctype html><html><body><script>fetch('/x')</script></body></html>"


@pytest.mark.parametrize(("name", "content_type", "make", "status", "codes"), [
    ("bomb.png", "image/png", png_bomb, 422, {"image_too_large"}),
    ("big.jpg", "image/jpeg", jpeg_with_lying_size, 422, {"image_too_large", "image_corrupt"}),
    ("loop.pdf", "application/pdf", pdf_with_a_page_tree_loop, 422, {"pdf_corrupt", "pdf_no_pages", "too_many_pages"}),
    ("scan.png", "image/png", lambda: SVG_WITH_SCRIPT, 415, {"unsupported_type"}),
    ("scan.pdf", "application/pdf", lambda: HTML, 415, {"unsupported_type"}),
    ("scan.jpg", "image/jpeg", lambda: b"GIF89a" + b"\x00" * 64, 415, {"unsupported_type"}),
])
async def test_hostile_files_are_refused_cleanly(
    security_apps: dict[str, Running], name: str, content_type: str, make: object, status: int, codes: set[str]
) -> None:
    data = make()  # type: ignore[operator]
    started = time.monotonic()
    r = await security_apps["scan"].client.post(
        f"/dossiers/{_code()}/components/ban_chinh/documents", headers=OFFICER, data=FORM,
        files=[("files", (name, data, content_type))])
    assert time.monotonic() - started < 15, "refused without decoding the whole file"
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] in codes, r.text


async def test_a_pdf_with_a_huge_image_is_stored_without_decoding_it(security_apps: dict[str, Running]) -> None:
    started = time.monotonic()
    r = await security_apps["scan"].client.post(
        f"/dossiers/{_code()}/components/ban_chinh/documents", headers=OFFICER, data=FORM,
        files=[("files", ("scan.pdf", pdf_image_bomb(), "application/pdf"))])
    assert r.status_code == 201, r.text
    assert r.json()["pages"] == 1 and r.json()["thumbnail_source"] in ("pdftoppm", "placeholder")
    assert time.monotonic() - started < 30


async def test_a_lying_page_count_is_not_believed(security_apps: dict[str, Running]) -> None:
    r = await security_apps["scan"].client.post(
        f"/dossiers/{_code()}/components/ban_chinh/documents", headers=OFFICER, data=FORM,
        files=[("files", ("pages.pdf", pdf_claiming_many_pages(), "application/pdf"))])
    assert r.status_code in (201, 422), r.text
    if r.status_code == 201:  # the page tree is walked, the /Count claim ignored
        assert r.json()["pages"] == 1
    else:
        assert r.json()["error"]["code"] in ("too_many_pages", "pdf_corrupt")


def test_the_png_bomb_really_is_one() -> None:
    with Image.open(io.BytesIO(png_bomb())) as image:
        assert image.size == (50_000, 50_000)
    assert len(png_bomb()) < 1_000_000
