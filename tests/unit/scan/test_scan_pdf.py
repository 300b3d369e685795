"""Checking PDFs and assembling page images into one PDF (files on a temporary disk)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from services.scan.model import PreparedDocument, Rejected, ScanLimits, SpooledFile, UnsupportedType
from services.scan.pdf import StreamingPdfWriter, placeholder_thumbnail, prepare_document
from tests.unit.scan import scan_samples as samples

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _spool(tmp_path: Path, *files: tuple[str, bytes]) -> list[SpooledFile]:
    out = []
    for index, (name, data) in enumerate(files):
        path = tmp_path / f"in-{index}"
        path.write_bytes(data)
        out.append(SpooledFile(index=index, field="files", filename=name, path=path, size=len(data),
                               sha256=hashlib.sha256(data).hexdigest(), head=data[:1024]))
    return out


def _prepare(tmp_path: Path, *files: tuple[str, bytes], limits: ScanLimits | None = None,
             pdftoppm: bool = False) -> PreparedDocument:
    work = tmp_path / f"work-{len(list(tmp_path.iterdir()))}"
    work.mkdir()
    return prepare_document(_spool(tmp_path, *files), limits or ScanLimits(), work, use_pdftoppm=pdftoppm)


def test_jpeg_and_png_become_one_pdf_with_a_thumbnail(tmp_path: Path) -> None:
    jpeg = samples.jpeg()
    doc = _prepare(tmp_path, ("trang1.jpg", jpeg), ("trang2.png", samples.png()))
    assert doc.pages == 2 and doc.source_formats == ["jpeg", "png"]
    reader = PdfReader(doc.path)
    assert len(reader.pages) == 2
    # the JPEG page is embedded as is (no re-compression)
    xobject = reader.pages[0]["/Resources"]["/XObject"]["/Im0"].get_object()  # type: ignore[index]
    assert xobject["/Filter"] == "/DCTDecode" and xobject.get_data() == jpeg
    assert doc.sha256 == hashlib.sha256(doc.path.read_bytes()).hexdigest() and doc.size == doc.path.stat().st_size
    assert doc.thumbnail_png.startswith(PNG_MAGIC) and doc.thumbnail_source == "image"
    with Image.open(io.BytesIO(doc.thumbnail_png)) as thumb:
        assert thumb.width <= 240 and thumb.height <= 340


def test_the_same_pages_give_the_same_pdf(tmp_path: Path) -> None:
    files = (("a.jpg", samples.jpeg()), ("b.png", samples.png()))
    assert _prepare(tmp_path, *files).sha256 == _prepare(tmp_path, *files).sha256


def test_multi_page_tiff_gives_one_page_per_frame(tmp_path: Path) -> None:
    doc = _prepare(tmp_path, ("scan.tif", samples.tiff(pages=3)), ("p.png", samples.png()))
    assert doc.pages == 4
    reader = PdfReader(doc.path)
    assert len(reader.pages) == 4
    assert round(float(reader.pages[0].mediabox.width)) == 72  # 300 px at 300 dpi = 1 inch


def test_bilevel_alpha_and_16_bit_images_are_converted(tmp_path: Path) -> None:
    doc = _prepare(tmp_path, ("a.tif", samples.image_bytes("TIFF", mode="1", colour=1)),
                   ("b.png", samples.image_bytes("PNG", mode="RGBA", colour=10)),
                   ("c.png", samples.image_bytes("PNG", mode="I;16", colour=300)))
    modes = [getattr(page.images[0].image, "mode", None) for page in PdfReader(doc.path).pages]
    assert modes == ["1", "RGB", "L"]


def test_a_png_named_pdf_is_treated_as_an_image(tmp_path: Path) -> None:
    doc = _prepare(tmp_path, ("to-khai.pdf", samples.png()))
    assert doc.source_formats == ["png"] and doc.pages == 1


def test_an_uploaded_pdf_is_kept_as_is(tmp_path: Path) -> None:
    data = samples.pdf(pages=3)
    doc = _prepare(tmp_path, ("a.pdf", data))
    assert doc.pages == 3 and doc.sha256 == hashlib.sha256(data).hexdigest() and doc.size == len(data)
    assert doc.thumbnail_source == "placeholder" and doc.thumbnail_png.startswith(PNG_MAGIC)


def test_a_scanned_pdf_gets_its_page_image_as_thumbnail(tmp_path: Path) -> None:
    assembled = _prepare(tmp_path, ("a.jpg", samples.jpeg()))
    doc = _prepare(tmp_path, ("scan.pdf", assembled.path.read_bytes()))
    assert doc.thumbnail_source == "image"


@pytest.mark.parametrize(("data", "code"), [
    (samples.encrypted_pdf(), "pdf_encrypted"),
    (samples.corrupt_pdf(), "pdf_corrupt"),
    (samples.zero_page_pdf(), "pdf_no_pages"),
    (samples.pdf(pages=4), "too_many_pages"),
])
def test_bad_pdfs_are_refused_with_a_code(tmp_path: Path, data: bytes, code: str) -> None:
    with pytest.raises(Rejected) as err:
        _prepare(tmp_path, ("x.pdf", data), limits=ScanLimits(max_pages=3))
    assert err.value.code == code


@pytest.mark.parametrize(("data", "code"), [
    (samples.png()[:200], "image_corrupt"),  # truncated
    (b"\xff\xd8\xff" + b"\x00" * 100, "image_corrupt"),
    (b"", "empty_file"),
])
def test_bad_images_are_refused_with_a_code(tmp_path: Path, data: bytes, code: str) -> None:
    with pytest.raises(Rejected) as err:
        _prepare(tmp_path, ("x.png", data))
    assert err.value.code == code


def test_page_and_pixel_limits_apply_to_images(tmp_path: Path) -> None:
    with pytest.raises(Rejected) as err:
        _prepare(tmp_path, ("a.tif", samples.tiff(pages=3)), ("b.jpg", samples.jpeg()),
                 limits=ScanLimits(max_pages=3))
    assert err.value.code == "too_many_pages"
    with pytest.raises(Rejected) as err:
        _prepare(tmp_path, ("big.png", samples.png()), limits=ScanLimits(max_image_pixels=1000))
    assert err.value.code == "image_too_large"


def test_unsupported_content_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedType):
        _prepare(tmp_path, ("note.pdf", b"just text, not a scan"))


def test_exif_rotated_jpeg_is_turned_upright(tmp_path: Path) -> None:
    image = Image.new("RGB", (200, 100), (200, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    doc = _prepare(tmp_path, ("photo.jpg", out.getvalue()))
    page_image = PdfReader(doc.path).pages[0].images[0].image
    assert page_image is not None and page_image.size == (100, 200)


def test_writer_refuses_a_wrong_page_count(tmp_path: Path) -> None:
    with (tmp_path / "x.pdf").open("wb") as fh:
        writer = StreamingPdfWriter(fh, 2)
        with pytest.raises(ValueError):
            writer.finish()


def test_placeholder_is_a_png() -> None:
    assert placeholder_thumbnail(12).startswith(PNG_MAGIC)
