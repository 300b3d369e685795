"""A minimal streaming PDF writer: one full-page image per page, written as it goes.

JPEG pages are copied as they are (DCTDecode, no re-compression); decoded pages are
Flate-compressed in bands of rows, so memory holds one page at most. The output is
deterministic (no dates, no random IDs).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from PIL import Image

from services.scan.model import PagePlacement

COPY_CHUNK = 1024 * 1024
_BAND_ROWS = 256


class StreamingPdfWriter:
    """A minimal PDF 1.4 writer with one full-page image per page, written as it goes.

    Object numbers are fixed by the page count: 1 catalog, 2 page tree, then per page i
    (from 0): 3+4i page, 4+4i content stream, 5+4i image, 6+4i the image stream's length.
    """

    def __init__(self, out: IO[bytes], pages: int) -> None:
        self.out = out
        self.pages = pages
        self.offsets: dict[int, int] = {}
        self.position = 0
        self.page_index = 0
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        kids = b" ".join(b"%d 0 R" % (3 + 4 * i) for i in range(pages))
        self._object(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        self._object(2, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, kids))

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.position += len(data)

    def _object(self, number: int, body: bytes) -> None:
        self.offsets[number] = self.position
        self._write(b"%d 0 obj\n" % number + body + b"\nendobj\n")

    def _page(self, placement: PagePlacement) -> int:
        if self.page_index >= self.pages:
            raise ValueError("more pages than announced")
        base = 3 + 4 * self.page_index
        self.page_index += 1
        self._object(
            base,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Resources << /XObject << /Im0 %d 0 R >> "
            b"/ProcSet [/PDF /ImageB /ImageC] >> /Contents %d 0 R >>"
            % (_num(placement.page_width), _num(placement.page_height), base + 2, base + 1),
        )
        content = b"q %s 0 0 %s %s %s cm /Im0 Do Q\n" % (
            _num(placement.image_width), _num(placement.image_height), _num(placement.x), _num(placement.y))
        self._object(base + 1, b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        return base + 2

    def _image(self, number: int, header: bytes, chunks: Iterator[bytes]) -> None:
        self.offsets[number] = self.position
        self._write(b"%d 0 obj\n<< /Type /XObject /Subtype /Image %s /Length %d 0 R >>\nstream\n"
                    % (number, header, number + 1))
        length = 0
        for chunk in chunks:
            self._write(chunk)
            length += len(chunk)
        self._write(b"\nendstream\nendobj\n")
        self._object(number + 1, b"%d" % length)

    def add_jpeg_page(self, path: Path, width: int, height: int, mode: str, placement: PagePlacement) -> None:
        colour = b"/DeviceGray" if mode == "L" else b"/DeviceRGB"
        number = self._page(placement)

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as fh:
                while chunk := fh.read(COPY_CHUNK):
                    yield chunk

        self._image(number, b"/Width %d /Height %d /ColorSpace %s /BitsPerComponent 8 /Filter /DCTDecode"
                    % (width, height, colour), chunks())

    def add_raster_page(self, image: Image.Image, placement: PagePlacement) -> None:
        if image.mode == "1":
            colour, bits = b"/DeviceGray", 1
        elif image.mode == "L":
            colour, bits = b"/DeviceGray", 8
        else:
            colour, bits = b"/DeviceRGB", 8
        number = self._page(placement)

        def chunks() -> Iterator[bytes]:
            compressor = zlib.compressobj(6)
            for top in range(0, image.height, _BAND_ROWS):
                band = image.crop((0, top, image.width, min(image.height, top + _BAND_ROWS))).tobytes()
                if data := compressor.compress(band):
                    yield data
            yield compressor.flush()

        self._image(number, b"/Width %d /Height %d /ColorSpace %s /BitsPerComponent %d /Filter /FlateDecode"
                    % (image.width, image.height, colour, bits), chunks())

    def finish(self) -> None:
        if self.page_index != self.pages:
            raise ValueError(f"{self.page_index} pages written, {self.pages} announced")
        count = 3 + 4 * self.pages
        xref = self.position
        lines = [b"xref\n0 %d\n" % count, b"0000000000 65535 f \n"]
        lines += [b"%010d 00000 n \n" % self.offsets[n] for n in range(1, count)]
        self._write(b"".join(lines))
        self._write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, xref))


def _num(value: float) -> bytes:
    return (b"%.4f" % value).rstrip(b"0").rstrip(b".") or b"0"

