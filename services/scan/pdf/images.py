"""Page images (JPEG, PNG, TIFF incl. multi-page) assembled into one PDF, one page at a time."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from services.scan.model import (
    FileType,
    PreparedDocument,
    Rejected,
    ScanLimits,
    SpooledFile,
    describe_file,
    place_image,
)
from services.scan.pdf.thumbnails import jpeg_thumbnail, thumbnail_png
from services.scan.pdf.writer import COPY_CHUNK, StreamingPdfWriter

Image.MAX_IMAGE_PIXELS = None  # ScanLimits.max_image_pixels is checked before any decoding


@dataclass
class _ImageFile:
    spooled: SpooledFile
    file_type: FileType
    frames: int


def _open_image(spooled: SpooledFile, file_type: FileType) -> Image.Image:
    label = describe_file(spooled.index, spooled.filename)
    try:
        image = Image.open(spooled.path)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise Rejected(f"{label} is damaged and cannot be read as an image", code="image_corrupt") from exc
    if (image.format or "").lower() not in {file_type.value, "mpo" if file_type == FileType.JPEG else ""}:
        image.close()
        raise Rejected(f"{label} is damaged and cannot be read as an image", code="image_corrupt")
    return image


def _frames(image: Image.Image, file_type: FileType) -> Iterator[Image.Image]:
    """The pages of an image file: every frame of a TIFF, the (first) picture otherwise."""
    if file_type == FileType.TIFF and getattr(image, "n_frames", 1) > 1:
        yield from ImageSequence.Iterator(image)
    else:
        yield image


def assemble_images(files: list[SpooledFile], types: list[FileType], limits: ScanLimits, workdir: Path
                     ) -> PreparedDocument:
    # Count the pages first (headers only) so a too-long component is refused before any decoding.
    inputs: list[_ImageFile] = []
    total = 0
    for spooled, file_type in zip(files, types, strict=True):
        with _open_image(spooled, file_type) as image:
            try:
                frames = int(getattr(image, "n_frames", 1)) if file_type == FileType.TIFF else 1
            except Exception as exc:
                raise Rejected(f"{describe_file(spooled.index, spooled.filename)} is damaged",
                               code="image_corrupt") from exc
        total += frames
        limits.check_pages(total)
        inputs.append(_ImageFile(spooled, file_type, frames))

    out_path = workdir / "assembled.pdf"
    thumbnail: bytes | None = None
    with out_path.open("wb") as raw_out:
        writer = StreamingPdfWriter(raw_out, total)
        for item in inputs:
            label = describe_file(item.spooled.index, item.spooled.filename)
            with _open_image(item.spooled, item.file_type) as image:
                try:
                    for frame in _frames(image, item.file_type):
                        limits.check_pixels(item.spooled.index, item.spooled.filename, *frame.size)
                        if image.format == "JPEG" and _jpeg_passthrough(frame):
                            placement = place_image(frame.width, frame.height, _dpi(frame))
                            writer.add_jpeg_page(item.spooled.path, frame.width, frame.height,
                                                 frame.mode, placement)
                            if thumbnail is None:
                                thumbnail = jpeg_thumbnail(item.spooled.path)
                        else:
                            page = _page_image(frame)
                            placement = place_image(page.width, page.height, _dpi(frame))
                            writer.add_raster_page(page, placement)
                            if thumbnail is None:
                                thumbnail = thumbnail_png(page)
                except Rejected:
                    raise
                except (OSError, ValueError, SyntaxError, EOFError) as exc:
                    raise Rejected(f"{label} is damaged and cannot be read as an image",
                                   code="image_corrupt") from exc
        writer.finish()
    digest = hashlib.sha256()
    size = 0
    with out_path.open("rb") as fh:
        while chunk := fh.read(COPY_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    assert thumbnail is not None
    return PreparedDocument(out_path, digest.hexdigest(), size, total,
                            [t.value for t in types], thumbnail, "image")


def _dpi(image: Image.Image) -> tuple[float, float] | None:
    dpi = image.info.get("dpi")
    if isinstance(dpi, tuple) and len(dpi) == 2:
        try:
            return float(dpi[0]), float(dpi[1])
        except (TypeError, ValueError):
            return None
    return None


def _jpeg_passthrough(image: Image.Image) -> bool:
    """A JPEG can be copied into the PDF as is: grey or RGB, and no EXIF rotation to apply."""
    if image.mode not in ("L", "RGB"):
        return False
    try:
        orientation = image.getexif().get(0x0112, 1)
    except Exception:
        orientation = 1
    return orientation in (1, None)


def _page_image(frame: Image.Image) -> Image.Image:
    """A decoded page in a mode PDF takes directly: bilevel, grey or RGB (alpha on white)."""
    frame = ImageOps.exif_transpose(frame) or frame
    mode = frame.mode
    if mode in ("1", "L", "RGB"):
        frame.load()
        return frame
    if mode.startswith("I;16") or mode in ("I", "F"):
        return frame.convert("I").point(lambda v: v / 256).convert("L")
    if mode in ("LA", "La", "RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return frame.convert("RGB")

