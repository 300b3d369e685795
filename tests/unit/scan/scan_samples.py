"""Sample scans for scan's tests: small images and PDFs made on the fly (no fixtures on disk)."""

from __future__ import annotations

import io
import os
import random

from PIL import Image, ImageDraw
from pypdf import PdfWriter

OWNER_ID = "091203001234"  # a made-up CCCD (An Giang code 091); last four digits 1234
OTHER_OWNER_ID = "079198005678"
PHONE = "0912345678"


def image_bytes(fmt: str, *, size: tuple[int, int] = (400, 560), colour: int = 90, mode: str = "RGB",
                text: str = "", **save: object) -> bytes:
    fill: int | tuple[int, ...] = colour
    if mode == "RGB":
        fill = (colour, 120, 200)
    elif mode == "RGBA":
        fill = (colour, 120, 200, 128)
    image = Image.new(mode, size, fill)
    if text and mode in ("L", "RGB"):
        ImageDraw.Draw(image).text((20, 20), text, fill=0 if mode == "L" else (0, 0, 0))
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def jpeg(text: str = "trang 1", **kw: object) -> bytes:
    return image_bytes("JPEG", text=text, quality=85, **kw)  # type: ignore[arg-type]


def png(text: str = "trang 2", **kw: object) -> bytes:
    return image_bytes("PNG", text=text, **kw)  # type: ignore[arg-type]


def tiff(pages: int = 3, size: tuple[int, int] = (300, 420)) -> bytes:
    frames = [Image.new("L", size, 40 * (i + 1)) for i in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:], dpi=(300, 300))
    return out.getvalue()


def noisy_jpeg(size: tuple[int, int], seed: int = 1) -> bytes:
    """A JPEG that does not compress well (random noise), to reach a size quickly."""
    rnd = random.Random(seed)
    image = Image.frombytes("L", size, bytes(rnd.getrandbits(8) for _ in range(size[0] * size[1])))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zero_page_pdf() -> bytes:
    out = io.BytesIO()
    PdfWriter().write(out)
    return out.getvalue()


def encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(pdf(2)))
    writer.encrypt(user_password="secret", owner_password="owner-secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def corrupt_pdf() -> bytes:
    """Starts like a PDF, is not one."""
    return b"%PDF-1.7\n" + random.Random(7).randbytes(3000)


def random_bytes(n: int) -> bytes:
    return os.urandom(n)
