"""Uploaded PDFs: refuse encrypted, corrupt, empty or too long ones with clear codes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import IO

from pypdf import PdfReader

from services.scan.model import PreparedDocument, Rejected, ScanLimits, SpooledFile, describe_file
from services.scan.pdf.thumbnails import pdf_thumbnail, placeholder_thumbnail

log = logging.getLogger("motcua.scan.pdf")

#: Above this size a PDF is parsed strictly: lenient parsing rebuilds a broken cross-reference
#: table by reading the whole file into memory, which must not happen for a huge upload.
_STRICT_PARSE_ABOVE = 64 * 1024 * 1024


def inspect_pdf(path: Path, fh: IO[bytes], size: int, limits: ScanLimits, label: str) -> PdfReader:
    """Open a PDF and refuse encrypted, corrupt, empty or too long ones (clear codes)."""
    try:
        reader = PdfReader(fh, strict=size > _STRICT_PARSE_ABOVE)
        if reader.is_encrypted:
            raise Rejected(f"{label} is encrypted or password-protected; upload an unprotected PDF",
                           code="pdf_encrypted")
        pages = len(reader.pages)
        limits.check_pages(pages)
        if pages == 0:
            raise Rejected(f"{label} has no pages", code="pdf_no_pages")
        for page in reader.pages:  # every page object must be readable
            box = page.mediabox
            if float(box.width) <= 0 or float(box.height) <= 0:
                raise Rejected(f"{label} has a page without size", code="pdf_corrupt")
    except Rejected:
        raise
    except Exception as exc:
        log.info("corrupt PDF %s: %s: %s", path.name, type(exc).__name__, exc)
        raise Rejected(f"{label} is damaged and cannot be read as a PDF", code="pdf_corrupt") from None
    return reader


def prepare_pdf(spooled: SpooledFile, limits: ScanLimits, workdir: Path, *, use_pdftoppm: bool
                ) -> PreparedDocument:
    label = describe_file(spooled.index, spooled.filename)
    with spooled.path.open("rb") as fh:
        reader = inspect_pdf(spooled.path, fh, spooled.size, limits, label)
        pages = len(reader.pages)
        thumbnail, source = pdf_thumbnail(reader, spooled.path, workdir, use_pdftoppm=use_pdftoppm)
    if thumbnail is None:
        thumbnail, source = placeholder_thumbnail(pages), "placeholder"
    return PreparedDocument(spooled.path, spooled.sha256, spooled.size, pages, ["pdf"], thumbnail, source)

