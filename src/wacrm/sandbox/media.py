"""Small but real media files for customers' media messages (a PNG drawn here, tiny others)."""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime


def png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (37, 211, 102)) -> bytes:
    """A valid PNG image of one colour (WhatsApp green by default)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)

# kind -> (mime type, file name, bytes); audio/video/sticker are short files with the right magic.
SAMPLES: dict[str, tuple[str, str, bytes]] = {
    "image": ("image/png", "photo.png", png()),
    "sticker": (
        "image/webp",
        "sticker.webp",
        b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00",
    ),
    "video": ("video/mp4", "clip.mp4", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"),
    "audio": (
        "audio/mpeg",
        "song.mp3",
        b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 8,
    ),
    "voice": ("audio/ogg; codecs=opus", "voice.ogg", b"OggS\x00\x02" + b"\x00" * 20 + b"OpusHead"),
    "document": ("application/pdf", "invoice.pdf", _PDF),
}


@dataclass
class MediaObject:
    """A stored media file; `owner` is the phone number id whose token may read it."""

    id: str
    owner: str
    mime_type: str
    content: bytes
    filename: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()
