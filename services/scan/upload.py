"""Streamed multipart uploads: the body goes to temporary files chunk by chunk.

Nothing here holds a whole file in memory. Each file part is written to its own temporary
file as it arrives while its SHA-256 is computed; the per-file and per-request limits are
enforced on the bytes received so far, so an oversize upload is refused as soon as it crosses
the limit (not after it has been stored). Disk writes and hashing run in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from python_multipart.multipart import MultipartParser, parse_options_header

from services.scan.model import HEAD_BYTES, Rejected, ScanLimits, SpooledFile, UnsupportedType, safe_name


@dataclass
class SpooledForm:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[SpooledFile] = field(default_factory=list)


class _FileWriter:
    """Hash-while-writing sink for one file part (its methods run in a worker thread)."""

    def __init__(self, spooled: SpooledFile) -> None:
        self.spooled = spooled
        self.digest = hashlib.sha256()
        self.fh: IO[bytes] = spooled.path.open("wb")

    def write_all(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            if len(self.spooled.head) < HEAD_BYTES:
                self.spooled.head += chunk[: HEAD_BYTES - len(self.spooled.head)]
            self.digest.update(chunk)
            self.fh.write(chunk)

    def close(self) -> None:
        self.fh.close()
        self.spooled.sha256 = self.digest.hexdigest()


class _Part:
    def __init__(self) -> None:
        self.header_field = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.name = ""
        self.filename: str | None = None
        self.value = bytearray()
        self.writer: _FileWriter | None = None
        self.pending: list[bytes] = []
        self.size = 0


async def spool_multipart(
    chunks: AsyncIterable[bytes],
    content_type: str,
    content_length: int | None,
    limits: ScanLimits,
    workdir: Path,
    *,
    file_field: str = "files",
    on_field: Callable[[str, str], None] | None = None,
) -> SpooledForm:
    """Read a multipart/form-data body into `workdir`; files of `file_field` become SpooledFiles.

    `on_field(name, value)` is called as soon as each text field is complete, so that a request
    can be refused (e.g. for another unit) before the files that follow it are received.
    """
    mime, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if mime != b"multipart/form-data" or not boundary:
        raise UnsupportedType("Send the pages as multipart/form-data", code="multipart_required")
    if content_length is not None:
        limits.check_request_size(content_length)

    form = SpooledForm()
    state: dict[str, Any] = {"part": None, "ended": False}
    done: list[_Part] = []

    def on_part_begin() -> None:
        state["part"] = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["part"].header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["part"].header_value += data[start:end]

    def on_header_end() -> None:
        part: _Part = state["part"]
        part.headers[part.header_field.strip().lower()] = part.header_value.strip()
        part.header_field, part.header_value = b"", b""

    def on_headers_finished() -> None:
        part: _Part = state["part"]
        _, disposition = parse_options_header(part.headers.get(b"content-disposition", b""))
        part.name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        part.filename = filename.decode("utf-8", "replace") if filename is not None else None

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part: _Part = state["part"]
        piece = bytes(data[start:end])
        part.size += len(piece)
        if part.filename is None:
            part.value += piece
        else:
            part.pending.append(piece)

    def on_part_end() -> None:
        done.append(state["part"])
        state["part"] = None

    def on_end() -> None:
        state["ended"] = True

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_end": on_end,
        },
        max_header_count=16,
    )

    writers: list[_FileWriter] = []
    received = 0

    async def drain(part: _Part) -> None:
        """Check limits on the part's new bytes and write them (file parts) in a thread."""
        if part.filename is None:
            if len(part.value) > limits.max_field_bytes:
                raise Rejected(f"Form field {part.name[:40]!r} is too long", code="invalid_form")
            return
        if part.name != file_field:
            part.pending.clear()
            return
        if part.writer is None:
            index = len(form.files)
            limits.check_file_count(index + 1)
            spooled = SpooledFile(index=index, field=part.name, filename=safe_name(part.filename or ""),
                                  path=workdir / f"part-{index:04d}")
            part.writer = await asyncio.to_thread(_FileWriter, spooled)
            writers.append(part.writer)
            form.files.append(spooled)
        spooled = part.writer.spooled
        spooled.size = part.size
        limits.check_file_size(spooled.index, spooled.filename, part.size)
        if part.pending:
            pending, part.pending = part.pending, []
            await asyncio.to_thread(part.writer.write_all, pending)

    async def finish(part: _Part) -> None:
        await drain(part)
        if part.filename is None:
            if part.name:
                form.fields[part.name] = part.value.decode("utf-8", "replace")
                if on_field is not None:
                    on_field(part.name, form.fields[part.name])
        elif part.writer is not None:
            await asyncio.to_thread(part.writer.close)

    try:
        async for chunk in chunks:
            if not chunk:
                continue
            received += len(chunk)
            limits.check_request_size(received)
            parser.write(chunk)
            for part in done:
                await finish(part)
            done.clear()
            if state["part"] is not None:
                await drain(state["part"])
        parser.finalize()
        for part in done:
            await finish(part)
        done.clear()
    finally:
        for writer in writers:
            if not writer.fh.closed:
                await asyncio.to_thread(writer.fh.close)
    if not state["ended"]:
        raise Rejected("The multipart body ended before its closing boundary", code="invalid_form")
    return form
