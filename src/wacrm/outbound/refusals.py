"""What the outbound service refuses, and why (the messages are translated where they are shown)."""

from __future__ import annotations

from datetime import datetime

from wacrm.errors import AppError
from wacrm.i18n.labels import N_
from wacrm.i18n.text import Text

HEADER_NEEDS = {
    "image": N_(
        "the template {name} ({language}) has an image header: give its image (a https:// link"
        " or a media id)"
    ),
    "video": N_(
        "the template {name} ({language}) has a video header: give its video (a https:// link"
        " or a media id)"
    ),
    "document": N_(
        "the template {name} ({language}) has a document header: give its document (a https://"
        " link or a media id)"
    ),
}


class OutboundError(AppError):
    """A message cannot be queued as asked (the message says why and what to do)."""

    status = 422


class WindowClosedError(OutboundError):
    """Free-form content outside the 24-hour customer-service window."""

    status = 409

    def __init__(self, closed_at: datetime | None) -> None:
        super().__init__(
            Text(
                "the 24-hour window closed at {when} (the customer has not written since); send"
                " an approved template",
                when=closed_at,
            )
            if closed_at
            else Text(
                "the 24-hour window is not open (the customer has not written since); send an"
                " approved template"
            )
        )
        self.closed_at = closed_at
