"""The sandbox's in-memory state: numbers, media, what was sent, windows, limits, faults."""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wacrm.sandbox import templates as sandbox_templates
from wacrm.sandbox.media import MediaObject

if TYPE_CHECKING:
    from starlette.requests import Request

WINDOW_SECONDS = 24 * 3600


@dataclass
class SandboxConfig:
    """Defaults for new numbers and the webhook delivery policy."""

    status_delays_ms: tuple[int, int, int] = (50, 150, 400)
    webhook_retries: int = 4
    webhook_backoff_ms: int = 200
    webhook_timeout_s: float = 10.0
    template_review_s: float = 1.0  # a created or edited template is reviewed after this long


@dataclass
class Number:
    phone_number_id: str
    display_phone_number: str
    waba_id: str
    access_token: str
    app_secret: str
    webhook_url: str | None = None
    messages_per_second: int = 80
    pair_limit: int | None = None  # messages per pair_window_seconds to one customer; None = off
    pair_window_seconds: float = 6.0
    verified_name: str = "iDesign Sandbox Shop"
    enforce_window: bool = True
    window_error_via: str = "response"  # "response" (HTTP 400) or "status" (a failed webhook)
    status_delays_ms: tuple[int, int, int] = (50, 150, 400)
    send_read: bool = True
    bsuid: bool = True  # new-shape statuses (recipient_user_id, contacts)
    # what Meta's dashboard shows of the number and its token (the connect page's checks ask)
    registered: bool = True  # registered on the Cloud API (else sends answer 133010)
    status: str = "CONNECTED"  # CONNECTED, PENDING, FLAGGED, RESTRICTED, BANNED, ...
    quality_rating: str = "GREEN"  # GREEN, YELLOW, RED, UNKNOWN
    messaging_limit_tier: str = "TIER_1K"  # TIER_250, TIER_1K, TIER_10K, TIER_100K, TIER_UNLIMITED
    name_status: str = "APPROVED"
    token_scopes: tuple[str, ...] = (
        "whatsapp_business_management",
        "whatsapp_business_messaging",
        "public_profile",
    )
    token_type: str = "SYSTEM_USER"  # noqa: S105 - SYSTEM_USER (never expires) or USER (expires)
    token_expires_at: int = 0  # Unix seconds; 0 = never
    app_id: str = "1185423096147051"
    app_name: str = "iDesign CRM"

    def public(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in ("access_token", "app_secret")}
        data["status_delays_ms"] = list(self.status_delays_ms)
        data["token_scopes"] = list(self.token_scopes)
        return data


@dataclass
class SentMessage:
    """A message (or an attempt) the business sent through the Graph API."""

    wamid: str
    phone_number_id: str
    to: str
    wa_id: str | None
    user_id: str | None
    type: str
    request: dict[str, Any]
    created_at: float = field(default_factory=time.time)
    statuses: list[dict[str, Any]] = field(default_factory=list)  # {status, at, crm_status}

    def public(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "status": self.statuses[-1]["status"] if self.statuses else "accepted",
        }


@dataclass
class Faults:
    mode: str = "none"  # none | slow | error5xx | drop | token_expired
    delay_ms: int = 0
    probability: float = 1.0
    count: int | None = None  # how many requests to affect; None = all
    hits: int = 0

    def pick(self) -> str:
        """The fault to apply to this request ("none" when it is spared)."""
        if self.mode == "none" or (self.count is not None and self.hits >= self.count):
            return "none"
        if self.probability < 1.0 and random.random() >= self.probability:
            return "none"
        self.hits += 1
        return self.mode


@dataclass
class Customer:
    """Someone the sandbox played, as the business sees them."""

    phone: str | None
    user_id: str | None
    name: str | None = None
    username: str | None = None
    last_inbound: float | None = None
    # closed by hand (the page or POST /customers/{c}/window): refused even on a number that does
    # not enforce the window otherwise (the demo's, which forgets windows on restart)
    window_closed: bool = False
    inbound: list[dict[str, Any]] = field(default_factory=list)


class SandboxState:
    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.numbers: dict[str, Number] = {}
        self.media: dict[str, MediaObject] = {}
        self.sent: list[SentMessage] = []
        self.by_wamid: dict[str, SentMessage] = {}
        self.customers: dict[tuple[str, str], Customer] = {}  # (number, phone or bsuid)
        self.errors: dict[str, Counter[int]] = defaultdict(Counter)
        self.sends: dict[str, deque[float]] = defaultdict(deque)
        self.pair_sends: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self.failing: dict[str, dict[str, Any]] = {}  # recipient -> {code, details}
        self.faults = Faults()
        self.webhook_log: list[dict[str, Any]] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.subscribed_apps: dict[str, dict[str, str]] = {}  # waba id -> {app id: app name}
        # templates created through the API (the built-in ones are wacrm.sandbox.templates), and
        # names the review rejects (name -> Meta's reason), set with POST /sandbox/templates/reject
        self.created_templates: list[dict[str, Any]] = []
        self.reject_names: dict[str, str] = {}
        self.upload_sessions: dict[str, Any] = {}  # Resumable Upload API sessions (uploads.py)
        sandbox_templates.use_created(self.created_templates)

    def reset(self, *, keep_numbers: bool = False) -> None:
        for task in self.tasks:
            task.cancel()
        numbers = self.numbers if keep_numbers else {}
        subscribed = self.subscribed_apps if keep_numbers else {}
        self.__init__(self.config)  # type: ignore[misc]
        self.numbers = numbers
        self.subscribed_apps = subscribed

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def number_for_token(self, token: str | None) -> Number | None:
        for number in self.numbers.values():
            if token and secrets.compare_digest(number.access_token, token):
                return number
        return None

    def numbers_of_waba(self, waba_id: str) -> list[Number]:
        return [n for n in self.numbers.values() if n.waba_id == waba_id]

    def new_media_id(self) -> str:
        return str(10**15 + secrets.randbelow(9 * 10**15))

    def customer(self, number_id: str, phone: str | None, user_id: str | None) -> Customer:
        """The customer known by phone or BSUID (both keys point at one record)."""
        keys = [k for k in (phone, user_id) if k]
        found = next(
            (self.customers[(number_id, k)] for k in keys if (number_id, k) in self.customers), None
        )
        if found is None:
            found = Customer(phone=phone, user_id=user_id)
        found.phone = found.phone or phone
        found.user_id = found.user_id or user_id
        for key in keys:
            self.customers[(number_id, key)] = found
        return found

    def window_closed_by_hand(self, number_id: str, recipient: str) -> bool:
        known = self.customers.get((number_id, recipient))
        return bool(known and known.window_closed)

    def window_open(self, number_id: str, recipient: str) -> bool:
        known = self.customers.get((number_id, recipient))
        return bool(
            known and known.last_inbound and time.time() - known.last_inbound < WINDOW_SECONDS
        )

    def take_throughput(self, number: Number) -> bool:
        """Count one send against the number's per-second limit; False when over it."""
        now = time.monotonic()
        window = self.sends[number.phone_number_id]
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= number.messages_per_second:
            return False
        window.append(now)
        return True

    def take_pair(self, number: Number, recipient: str) -> bool:
        if number.pair_limit is None:
            return True
        now = time.monotonic()
        window = self.pair_sends[(number.phone_number_id, recipient)]
        while window and now - window[0] >= number.pair_window_seconds:
            window.popleft()
        if len(window) >= number.pair_limit:
            return False
        window.append(now)
        return True


def state_of(request: Request) -> SandboxState:
    """The state of the sandbox app serving `request`."""
    return request.app.state.sandbox


def bearer_token(request: Request) -> str | None:
    """A Graph API call's access token: `Authorization: Bearer ...`, else `?access_token=`."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.query_params.get("access_token")
