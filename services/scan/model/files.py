"""Uploaded files (tệp quét): type by content, size and page limits, page geometry. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from services.scan.model.errors import Rejected, TooLarge, UnsupportedType

MB = 1024 * 1024

#: Bytes of the start of a file that `detect_file_type` needs (a PDF header may sit anywhere
#: in the first 1024 bytes, ISO 32000-1 §7.5.2 implementation note).
HEAD_BYTES = 1024


class FileType(StrEnum):
    PDF = "pdf"
    JPEG = "jpeg"
    PNG = "png"
    TIFF = "tiff"


IMAGE_TYPES: frozenset[FileType] = frozenset({FileType.JPEG, FileType.PNG, FileType.TIFF})

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, both byte orders


def detect_file_type(head: bytes) -> FileType | None:
    """The type of a file from its first bytes (magic numbers), whatever its name says."""
    if head.startswith(_PNG_MAGIC):
        return FileType.PNG
    if head.startswith(_JPEG_MAGIC):
        return FileType.JPEG
    if head.startswith(_TIFF_MAGICS):
        return FileType.TIFF
    if b"%PDF-" in head[:HEAD_BYTES]:
        return FileType.PDF
    return None


def describe_file(index: int, filename: str) -> str:
    """How an error names a file: its position, and its (shortened) name when it had one."""
    name = filename.strip()[:80]
    return f"file {index + 1} ({name})" if name else f"file {index + 1}"


def classify_files(heads: list[tuple[str, bytes]]) -> list[FileType]:
    """Types of the files of one component upload, in order; refuses unknown types and mixes.

    One component is either one PDF, or one or more page images (JPEG, PNG, TIFF — a TIFF may
    hold several pages) that are assembled into one PDF.
    """
    if not heads:
        raise Rejected("No file was uploaded: send the scanned pages as 'files'", code="no_files")
    types: list[FileType] = []
    for index, (filename, head) in enumerate(heads):
        detected = detect_file_type(head)
        if detected is None:
            raise UnsupportedType(
                f"{describe_file(index, filename)} is not a PDF, JPEG, PNG or TIFF (type is read from "
                "the content, not the file name)",
                code="unsupported_type",
                details={"file": index + 1},
            )
        types.append(detected)
    if FileType.PDF in types and len(types) > 1:
        raise Rejected(
            "A component is either one PDF or a set of page images; do not mix a PDF with other files",
            code="mixed_file_types",
        )
    return types


@dataclass(frozen=True)
class ScanLimits:
    """Per-file, per-request and per-component limits (configurable; DOMAIN: defaults 20 MB, 100 pages)."""

    max_file_bytes: int = 20 * MB
    max_pages: int = 100
    max_request_bytes: int = 200 * MB
    max_image_pixels: int = 60_000_000
    max_field_bytes: int = 16 * 1024

    @property
    def max_files(self) -> int:
        return self.max_pages

    def check_file_size(self, index: int, filename: str, size: int) -> None:
        if size > self.max_file_bytes:
            raise TooLarge(
                f"{describe_file(index, filename)} is larger than {self.max_file_bytes / MB:g} MB",
                code="file_too_large",
                details={"file": index + 1, "limit_bytes": self.max_file_bytes},
            )

    def check_request_size(self, size: int) -> None:
        if size > self.max_request_bytes:
            raise TooLarge(
                f"The upload is larger than {self.max_request_bytes / MB:g} MB in total",
                code="request_too_large",
                details={"limit_bytes": self.max_request_bytes},
            )

    def check_file_count(self, count: int) -> None:
        if count > self.max_files:
            raise Rejected(
                f"At most {self.max_files} files may be uploaded for one component",
                code="too_many_files",
                details={"limit": self.max_files},
            )

    def check_pages(self, pages: int) -> None:
        if pages > self.max_pages:
            raise Rejected(
                f"A component may have at most {self.max_pages} pages; this one has {pages}",
                code="too_many_pages",
                details={"pages": pages, "limit": self.max_pages},
            )

    def check_pixels(self, index: int, filename: str, width: int, height: int) -> None:
        if width <= 0 or height <= 0:
            raise Rejected(f"{describe_file(index, filename)} has no pixels", code="image_corrupt")
        if width * height > self.max_image_pixels:
            raise Rejected(
                f"{describe_file(index, filename)} is {width}×{height} pixels; the limit is "
                f"{self.max_image_pixels / 1e6:g} megapixels per page (scan at 300 dpi)",
                code="image_too_large",
                details={"file": index + 1, "width": width, "height": height},
            )


# ---- page geometry ----------------------------------------------------------------------

A4_POINTS = (595.2756, 841.8898)  # 210 × 297 mm at 72 points per inch
_PLAUSIBLE_DPI = (50.0, 2400.0)


@dataclass(frozen=True)
class PagePlacement:
    """A page of the assembled PDF and where its image sits on it, in points."""

    page_width: float
    page_height: float
    image_width: float
    image_height: float
    x: float
    y: float


def place_image(width_px: int, height_px: int, dpi: tuple[float, float] | None) -> PagePlacement:
    """Page size for one scanned image.

    With a plausible resolution (as scanners record it) the page has the paper's real size,
    so an A4 scan prints as A4. Without one (phone photos), the image is fitted, centred, on
    an A4 page turned to the image's orientation.
    """
    if width_px <= 0 or height_px <= 0:
        raise ValueError("an image needs a positive size")
    if dpi and all(_PLAUSIBLE_DPI[0] <= d <= _PLAUSIBLE_DPI[1] for d in dpi):
        w = width_px * 72.0 / dpi[0]
        h = height_px * 72.0 / dpi[1]
        return PagePlacement(w, h, w, h, 0.0, 0.0)
    page_w, page_h = A4_POINTS if height_px >= width_px else (A4_POINTS[1], A4_POINTS[0])
    scale = min(page_w / width_px, page_h / height_px)
    w, h = width_px * scale, height_px * scale
    return PagePlacement(page_w, page_h, w, h, (page_w - w) / 2, (page_h - h) / 2)


#: Bounding box of the first-page thumbnail shown on the officer's screen (PNG).
THUMBNAIL_BOX = (240, 340)


# ---- files on disk (data only: the adapters create and read them) --------------------------

@dataclass
class SpooledFile:
    """One uploaded file, written to a temporary file as it arrived (never held in memory)."""

    index: int
    field: str
    filename: str
    path: Path
    size: int = 0
    sha256: str = ""
    head: bytes = b""


@dataclass
class PreparedDocument:
    """The single PDF to store for one component, and what is known about it."""

    path: Path
    sha256: str
    size: int
    pages: int
    source_formats: list[str] = field(default_factory=list)
    thumbnail_png: bytes = b""
    thumbnail_source: str = "none"
