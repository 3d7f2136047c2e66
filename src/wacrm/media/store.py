"""Where downloaded media live: an interface, and a folder implementation under WACRM_DATA_DIR/media."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from wacrm.config import Settings

_KEY = re.compile(r"^[0-9]{1,19}/[0-9]{1,19}$")


class MediaStore(Protocol):
    """Bytes by key (`<agent_id>/<message_id>`); an S3-compatible store implements the same three calls."""

    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes | None: ...

    async def delete(self, key: str) -> None: ...


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError(f"invalid media key {key!r}: expected <agent_id>/<message_id>")
    return key


class FolderStore:
    """Files in a folder; written to a temporary name and renamed, so a reader never sees half a file."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _put(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, key, data)

    async def get(self, key: str) -> bytes | None:
        path = self.path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


def media_store(settings: Settings) -> MediaStore:
    """The configured store (the folder WACRM_DATA_DIR/media)."""
    return FolderStore(Path(settings.data_dir) / "media")


def media_key(agent_id: int, message_id: int) -> str:
    return f"{int(agent_id)}/{int(message_id)}"
