"""Thumbnails (PNG) of a document's first page for the officer's screen.

For a PDF upload, pure Python cannot render arbitrary pages: a scanned page is normally one
image covering the page, and that image is used; otherwise `pdftoppm` (poppler-utils, optional,
not installed everywhere) renders it when present; failing both, a plain placeholder is drawn.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps
from pypdf import PdfReader
from pypdf.generic import IndirectObject

from services.scan.model import THUMBNAIL_BOX

log = logging.getLogger("motcua.scan.pdf")

#: Largest embedded page image decoded to make a PDF's thumbnail.
_THUMB_IMAGE_MAX_BYTES = 32 * 1024 * 1024
_THUMB_IMAGE_MAX_PIXELS = 40_000_000


def pdf_thumbnail(reader: PdfReader, path: Path, workdir: Path, *, use_pdftoppm: bool
                   ) -> tuple[bytes | None, str]:
    try:
        image = _single_page_image(reader)
        if image is not None:
            return thumbnail_png(image), "image"
    except Exception as exc:  # a thumbnail is a convenience: never fail the upload for it
        log.info("no image thumbnail for %s: %s: %s", path.name, type(exc).__name__, exc)
    if use_pdftoppm:
        rendered = render_with_pdftoppm(path, workdir)
        if rendered is not None:
            return rendered, "pdftoppm"
    return None, "placeholder"


def _single_page_image(reader: PdfReader) -> Image.Image | None:
    """The first page's image when the page is one scanned image covering it, else None."""
    page = reader.pages[0]
    resources: Any = page.get("/Resources")
    resources = resources.get_object() if isinstance(resources, IndirectObject) else resources
    if not resources or "/XObject" not in resources:
        return None
    xobjects: Any = resources["/XObject"].get_object()
    images = [xobjects[name].get_object() for name in xobjects
              if xobjects[name].get_object().get("/Subtype") == "/Image"]
    if len(images) != 1:
        return None
    image: Any = images[0]
    width, height = int(image.get("/Width", 0)), int(image.get("/Height", 0))
    if width <= 0 or height <= 0 or width * height > _THUMB_IMAGE_MAX_PIXELS:
        return None
    box = page.mediabox
    page_ratio = float(box.width) / float(box.height)
    rotate = int(page.get("/Rotate", 0) or 0) % 180
    image_ratio = (height / width) if rotate else (width / height)
    if abs(image_ratio - page_ratio) / page_ratio > 0.1:  # not a full-page scan: a logo, a photo
        return None
    length: Any = image.get("/Length", 0)
    if isinstance(length, IndirectObject):
        length = length.get_object()
    if int(length) > _THUMB_IMAGE_MAX_BYTES:
        return None
    if image.get("/Filter") == "/DCTDecode":
        raw = image.get_data()  # pypdf leaves DCT (JPEG) data as it is
        pil = Image.open(io.BytesIO(raw))
        pil.draft("RGB", (THUMBNAIL_BOX[0] * 2, THUMBNAIL_BOX[1] * 2))
        return pil
    return reader.pages[0].images[0].image


def render_with_pdftoppm(path: Path, workdir: Path) -> bytes | None:
    """First page as PNG through poppler's `pdftoppm`, when it is installed (optional)."""
    exe = shutil.which("pdftoppm")
    if not exe:
        return None
    out = workdir / "thumb"
    try:
        subprocess.run(
            [exe, "-f", "1", "-l", "1", "-singlefile", "-png", "-scale-to", str(max(THUMBNAIL_BOX)),
             str(path), str(out)],
            check=True, timeout=30, capture_output=True,
        )
        with Image.open(out.with_suffix(".png")) as rendered:
            return thumbnail_png(rendered)
    except Exception as exc:
        log.info("pdftoppm could not render %s: %s", path.name, exc)
        return None


# ---- page images → one PDF ----------------------------------------------------------------

def jpeg_thumbnail(path: Path) -> bytes:
    with Image.open(path) as image:
        image.draft("RGB", (THUMBNAIL_BOX[0] * 2, THUMBNAIL_BOX[1] * 2))
        return thumbnail_png(image)


def thumbnail_png(image: Image.Image) -> bytes:
    thumb = ImageOps.exif_transpose(image) or image
    thumb = thumb.convert("L") if thumb.mode in ("1", "L", "I;16", "I") else thumb.convert("RGB")
    thumb.thumbnail(THUMBNAIL_BOX)
    out = io.BytesIO()
    thumb.save(out, "PNG")
    return out.getvalue()


def placeholder_thumbnail(pages: int) -> bytes:
    """A plain page outline saying PDF and the page count, when the page cannot be rendered."""
    width, height = THUMBNAIL_BOX
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((4, 4, width - 5, height - 5), outline=(120, 120, 120), width=2)
    try:
        big: Any = ImageFont.load_default(size=48)
        small: Any = ImageFont.load_default(size=20)
    except Exception:
        big = small = ImageFont.load_default()
    draw.text((width / 2, height / 2 - 20), "PDF", fill=(180, 30, 30), font=big, anchor="mm")
    draw.text((width / 2, height / 2 + 30), f"{pages} trang", fill=(60, 60, 60), font=small, anchor="mm")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()

