"""PDF and image adapter: check uploaded PDFs, assemble page images into one PDF, thumbnails.

Blocking (files, CPU): the service runs `prepare_document` in a worker thread.

Memory stays bounded by one page, never by the upload:

* PDFs are opened from the file (pypdf reads objects on demand); the PDF itself is stored as
  uploaded, so its bytes are never loaded (`checks`).
* Page images are written into one PDF page by page (`images`, `writer`): JPEG pages are
  copied as they are (no re-compression, no quality loss); PNG and TIFF pages are decoded one
  at a time. The output is deterministic, so the same pages give the same PDF, the same
  SHA-256 and therefore one stored object.
* Thumbnails (`thumbnails`): the first page scaled down; for PDFs see that module.
"""

from __future__ import annotations

from pathlib import Path

from services.scan.model import (
    FileType,
    PreparedDocument,
    Rejected,
    ScanLimits,
    SpooledFile,
    classify_files,
    describe_file,
)
from services.scan.pdf.checks import inspect_pdf, prepare_pdf
from services.scan.pdf.images import assemble_images
from services.scan.pdf.thumbnails import placeholder_thumbnail
from services.scan.pdf.writer import StreamingPdfWriter

__all__ = ["StreamingPdfWriter", "inspect_pdf", "placeholder_thumbnail", "prepare_document"]


def prepare_document(files: list[SpooledFile], limits: ScanLimits, workdir: Path,
                     *, use_pdftoppm: bool = True) -> PreparedDocument:
    """Check the uploaded files of one component and produce its single PDF and thumbnail."""
    for spooled in files:
        if spooled.size == 0:
            raise Rejected(f"{describe_file(spooled.index, spooled.filename)} is empty", code="empty_file")
    types = classify_files([(f.filename, f.head) for f in files])
    if types[0] == FileType.PDF:
        return prepare_pdf(files[0], limits, workdir, use_pdftoppm=use_pdftoppm)
    return assemble_images(files, types, limits, workdir)

