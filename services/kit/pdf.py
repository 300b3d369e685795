"""Shared PDF helpers: the DejaVu fonts (Vietnamese diacritics) and vector QR codes.

Nothing here does I/O beyond reading the two font files shipped next to this module, once per
process. Fonts are registered with reportlab lazily and idempotently (thread-safe), so callers
may call :func:`register_fonts` on every render at no cost.
"""

from __future__ import annotations

import threading
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import segno
from reportlab.lib.colors import black
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable

__all__ = [
    "FONT_BOLD",
    "FONT_FAMILY",
    "FONT_REGULAR",
    "QRFlowable",
    "draw_qr",
    "nfc",
    "qr_matrix",
    "register_fonts",
]

FONT_REGULAR = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
#: Family name usable in platypus markup (<b> maps to the bold face). DejaVu's oblique faces are
#: not shipped, so <i> falls back to the upright faces instead of failing.
FONT_FAMILY = FONT_REGULAR

_FONT_DIR = Path(__file__).resolve().parent / "fonts"
_FONT_FILES = {FONT_REGULAR: "DejaVuSans.ttf", FONT_BOLD: "DejaVuSans-Bold.ttf"}
_lock = threading.Lock()
_registered = False

ErrorLevel = Literal["l", "m", "q", "h"]


def register_fonts() -> None:
    """Register DejaVu Sans (regular, bold) and its family with reportlab, once per process."""
    global _registered
    if _registered:
        return
    with _lock:
        if _registered:
            return
        known = set(pdfmetrics.getRegisteredFontNames())
        for name, filename in _FONT_FILES.items():
            if name not in known:
                pdfmetrics.registerFont(TTFont(name, str(_FONT_DIR / filename)))
        pdfmetrics.registerFontFamily(
            FONT_FAMILY, normal=FONT_REGULAR, bold=FONT_BOLD, italic=FONT_REGULAR, boldItalic=FONT_BOLD
        )
        _registered = True


def nfc(text: str) -> str:
    """NFC-normalise text: reportlab does no glyph composition, so decomposed Vietnamese
    (base letter + combining marks, as some keyboards and OCR produce) must be precomposed."""
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=256)
def qr_matrix(payload: str, *, error: ErrorLevel = "m") -> tuple[tuple[bool, ...], ...]:
    """The QR module matrix for ``payload`` (no quiet zone), row by row, ``True`` = dark.

    segno picks the mask with the lowest penalty (best scanning), which costs a few ms in
    pure Python; the result is cached so re-printing a slip does not pay it again."""
    qr = segno.make(payload, error=error, micro=False)
    return tuple(tuple(bool(v) for v in row) for row in qr.matrix)


def draw_qr(
    canvas: Any,
    payload: str,
    x: float,
    y: float,
    size: float,
    *,
    quiet_zone: int = 4,
    error: ErrorLevel = "m",
) -> None:
    """Draw ``payload`` as a QR code whose square (quiet zone included) has its lower-left
    corner at (x, y) and side ``size`` points. Dark modules are drawn as filled rectangles,
    with horizontal runs merged, so the code is vector and sharp at any print resolution."""
    matrix = qr_matrix(payload, error=error)
    modules = len(matrix) + 2 * quiet_zone
    unit = size / modules
    canvas.saveState()
    canvas.setFillColor(black)
    canvas.setStrokeColor(black)
    path = canvas.beginPath()
    for r, row in enumerate(matrix):
        top = y + size - (r + quiet_zone) * unit
        c = 0
        width = len(row)
        while c < width:
            if not row[c]:
                c += 1
                continue
            start = c
            while c < width and row[c]:
                c += 1
            path.rect(x + (start + quiet_zone) * unit, top - unit, (c - start) * unit, unit)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()


class QRFlowable(Flowable):
    """A platypus flowable drawing a square QR code of side ``size`` points."""

    def __init__(self, payload: str, size: float, *, quiet_zone: int = 2, error: ErrorLevel = "m") -> None:
        super().__init__()
        self.payload = payload
        self.size = size
        self.quiet_zone = quiet_zone
        self.error: ErrorLevel = error
        self.width = size
        self.height = size

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        draw_qr(self.canv, self.payload, 0, 0, self.size, quiet_zone=self.quiet_zone, error=self.error)
