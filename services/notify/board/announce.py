"""Optional spoken announcements ("Mời số A012 đến quầy 3") with espeak-ng, cached per phrase.

espeak-ng is a Debian package (`apt install espeak-ng`), not a Python dependency: it is looked
up on the PATH when notify starts. Without it the board still gets the text of every call (a
browser board can speak it with the Web Speech API) and the audio endpoint answers 404.
Each phrase is synthesised once into `<cache_dir>/<sha256>.wav` and served from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger("motcua.notify.board.announce")


class Announcer:
    def __init__(
        self,
        cache_dir: Path,
        *,
        voice: str = "vi",
        speed_wpm: int = 140,
        command: str | None = None,
        enabled: bool = True,
        timeout_s: float = 15.0,
    ) -> None:
        self.cache_dir = cache_dir
        self.voice = voice
        self.speed_wpm = speed_wpm
        self.timeout_s = timeout_s
        self.command = (command or shutil.which("espeak-ng")) if enabled else None
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Path | None]] = set()

    @property
    def available(self) -> bool:
        return self.command is not None

    def key(self, text: str) -> str:
        return hashlib.sha256(f"{self.voice}|{self.speed_wpm}|{text}".encode()).hexdigest()[:32]

    def path_for(self, text: str) -> Path:
        return self.cache_dir / f"{self.key(text)}.wav"

    async def audio(self, text: str) -> Path | None:
        """The WAV file of `text`, synthesised on first use; None when espeak-ng is missing or fails."""
        if self.command is None:
            return None
        path = self.path_for(text)
        if path.exists():
            return path
        lock = self._locks.setdefault(path.name, asyncio.Lock())
        async with lock:
            if path.exists():
                return path
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            proc = await asyncio.create_subprocess_exec(
                self.command,
                "-v",
                self.voice,
                "-s",
                str(self.speed_wpm),
                "-w",
                str(tmp),
                text,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                _, err = await asyncio.wait_for(proc.communicate(), timeout=self.timeout_s)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                log.warning("espeak-ng timed out on a phrase")
                return None
            if proc.returncode != 0 or not tmp.exists():
                log.warning("espeak-ng failed (%s): %s", proc.returncode, (err or b"").decode(errors="replace")[:200])
                with contextlib.suppress(OSError):
                    tmp.unlink()
                return None
            tmp.replace(path)
        self._locks.pop(path.name, None)
        return path

    def prepare(self, text: str) -> None:
        """Synthesise in the background so the board's request finds the file ready."""
        if self.command is None or self.path_for(text).exists():
            return
        task = asyncio.create_task(self.audio(text))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
