"""The one place that talks to Meta's Graph API for sending: pywa_async's client, pointed at our base URL.

pywa fixes its base URL to https://graph.facebook.com; `RebaseTransport` (an httpx transport we own)
sends those requests to the caller's `GraphApi` instead (`settings.graph_api`:
WHATSAPP_API_BASE_URL, the sandbox in tests and demos). Every
failure comes out as a `wacrm.outbound.errors.SendError`.

The clients of one event loop share one connection pool per number (keep-alive), and one pywa
client per number and token is kept (`client_for`); `close_shared()` closes the pools (the
worker calls it when it stops): an httpx client per send would build a TLS context each time.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pywa.errors import WhatsAppError
from pywa.types.templates import TemplateLanguage
from pywa_async import WhatsApp

from wacrm.config import GraphApi
from wacrm.outbound import errors

META_HOST = "graph.facebook.com"
T = TypeVar("T")
POOL_LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=30)
CACHED_CLIENTS = 1024  # pywa clients kept per event loop (one per number and token)


class RebaseTransport(httpx.AsyncBaseTransport):
    """Sends requests addressed to graph.facebook.com to `base_url` (scheme, host, port, path prefix)."""

    def __init__(self, base_url: str, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._base = httpx.URL(base_url.rstrip("/"))
        self._inner = inner or httpx.AsyncHTTPTransport(retries=0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == META_HOST:
            path = self._base.raw_path.rstrip(b"/") + request.url.raw_path
            request.url = request.url.copy_with(
                scheme=self._base.scheme, host=self._base.host, port=self._base.port, raw_path=path
            )
            request.headers["Host"] = request.url.netloc.decode()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Shared:
    """One event loop's connection pools (one per number) and its cached clients."""

    def __init__(self) -> None:
        self.transports: dict[str, httpx.AsyncHTTPTransport] = {}
        self.tls = httpx.create_ssl_context()  # one TLS context (certificates) for every pool
        self.clients: OrderedDict[tuple[Any, ...], WhatsAppClient] = OrderedDict()

    def transport(self, phone_id: str) -> httpx.AsyncHTTPTransport:
        """The number's pool: httpcore walks every connection of a pool at each request, so
        a pool per number keeps that walk to the few connections one number's sends use."""
        found = self.transports.get(phone_id)
        if found is None:
            found = self.transports[phone_id] = httpx.AsyncHTTPTransport(
                verify=self.tls, retries=0, limits=POOL_LIMITS
            )
        return found

    async def aclose(self) -> None:
        self.clients.clear()
        transports, self.transports = list(self.transports.values()), {}
        for transport in transports:
            await transport.aclose()


_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Shared] = weakref.WeakKeyDictionary()


def _shared_for_loop() -> _Shared:
    loop = asyncio.get_running_loop()
    shared = _shared.get(loop)
    if shared is None:
        shared = _shared[loop] = _Shared()
    return shared


async def close_shared() -> None:
    """Close this event loop's connection pool and forget its clients (a later send opens a new one)."""
    shared = _shared.pop(asyncio.get_running_loop(), None)
    if shared is not None:
        await shared.aclose()


async def _call(awaitable: Awaitable[T]) -> T:
    try:
        return await awaitable
    except WhatsAppError as exc:
        raw = exc.raw if isinstance(exc.raw, dict) else {"code": exc.code, "message": exc.message}
        raise errors.from_meta_error(raw, http_status=exc.status_code) from None
    except httpx.HTTPError as exc:
        raise errors.NetworkError(
            None, type(exc).__name__, str(exc) or type(exc).__name__
        ) from None
    except ValueError as exc:  # an answer that is not the JSON Meta sends
        raise errors.GenericError(None, "Unexpected answer", str(exc)) from None


def _wamid(sent: Any) -> str:
    return str(sent.id)


class WhatsAppClient:
    """Sending as one phone number. `to` is a phone number (digits) or a BSUID (e.g. US.1349...)."""

    def __init__(
        self,
        *,
        phone_id: str,
        token: str,
        graph: GraphApi,
        waba_id: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`graph`: where the API answers (`settings.graph_api`); `transport`: a shared connection
        pool (not closed by `aclose`), else the client owns one."""
        self.phone_id = str(phone_id)
        self.waba_id = waba_id
        self._owns_transport = transport is None
        self._http = httpx.AsyncClient(
            transport=RebaseTransport(graph.base_url, transport),
            timeout=timeout,
        )
        self.wa = WhatsApp(
            phone_id=self.phone_id,
            token=token,
            session=self._http,
            api_version=float(graph.version),
            waba_id=waba_id,
            filter_updates=False,
        )

    def __repr__(self) -> str:  # never show the token
        return f"WhatsAppClient(phone_id={self.phone_id!r})"

    async def aclose(self) -> None:
        if self._owns_transport:
            await self._http.aclose()

    async def send_text(
        self, to: str, body: str, *, preview_url: bool = False, reply_to: str | None = None
    ) -> str:
        return _wamid(
            await _call(
                self.wa.send_message(
                    to=to, text=body, preview_url=preview_url, reply_to_message_id=reply_to
                )
            )
        )

    async def upload_media(self, data: bytes, *, mime_type: str, filename: str) -> str:
        """Upload a file to /{phone-number-id}/media; return Meta's media id."""
        uploaded = await _call(
            self.wa.upload_media(media=data, mime_type=mime_type, filename=filename)
        )
        return str(getattr(uploaded, "id", uploaded))

    async def send_media(
        self,
        to: str,
        kind: str,
        media_id: str,
        *,
        caption: str | None = None,
        filename: str | None = None,
        reply_to: str | None = None,
    ) -> str:
        """Send an uploaded file by id: kind is image, video, audio, document or sticker."""
        body: dict[str, Any] = {"id": media_id}
        if caption and kind in ("image", "video", "document"):
            body["caption"] = caption
        if filename and kind == "document":
            body["filename"] = filename
        return await self._send(to, kind, body, reply_to)

    async def send_location(
        self,
        to: str,
        *,
        latitude: float,
        longitude: float,
        name: str | None = None,
        address: str | None = None,
        reply_to: str | None = None,
    ) -> str:
        return _wamid(
            await _call(
                self.wa.send_location(
                    to=to,
                    latitude=latitude,
                    longitude=longitude,
                    name=name,
                    address=address,
                    reply_to_message_id=reply_to,
                )
            )
        )

    async def send_reaction(self, to: str, *, emoji: str, message_wamid: str) -> str:
        return _wamid(
            await _call(self.wa.send_reaction(to=to, emoji=emoji, message_id=message_wamid))
        )

    async def send_template(
        self,
        to: str,
        *,
        name: str,
        language: str,
        body_params: list[str] | None = None,
        header_media: dict[str, Any] | None = None,
        reply_to: str | None = None,
    ) -> str:
        params: list[dict[str, Any]] = []
        if header_media:  # {type, link or id, filename?}: the media header's parameter
            kind = header_media["type"]
            media = {k: v for k, v in header_media.items() if k != "type" and v}
            params.append({"type": "header", "parameters": [{"type": kind, kind: media}]})
        if body_params:
            params.append(
                {"type": "body", "parameters": [{"type": "text", "text": p} for p in body_params]}
            )
        return _wamid(
            await _call(
                self.wa.send_template(
                    to=to,
                    name=name,
                    language=TemplateLanguage(language),
                    params=params,
                    reply_to_message_id=reply_to,
                )
            )
        )

    async def mark_as_read(self, wamid: str) -> None:
        await _call(self.wa.mark_message_as_read(message_id=wamid))

    async def list_templates(self) -> list[dict[str, Any]]:
        """Every template of the business account (all pages), as Meta returns them."""
        if not self.waba_id:
            raise errors.ParameterError(
                None, "No business account id", "set the business account id of this number"
            )
        found: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page = await _call(
                self.wa.api.get_templates(
                    waba_id=self.waba_id, pagination={"after": after} if after else None
                )
            )
            found += page.get("data", [])
            after = (page.get("paging") or {}).get("cursors", {}).get("after")
            if not after or not (page.get("paging") or {}).get("next"):
                return found

    async def create_template(self, template: dict[str, Any]) -> dict[str, Any]:
        """POST /{waba-id}/message_templates: {id, status, category}."""
        return dict(
            await _call(self.wa.api.create_template(waba_id=self._waba(), template=template))
        )

    async def upload_sample(self, data: bytes, file_type: str, file_name: str) -> str:
        """A file through the Resumable Upload API (the app from debug_token): its handle `h`."""
        app_id = (await self.debug_token()).get("app_id")
        if not app_id:
            raise errors.ParameterError(None, "No app", "the token does not name its app")
        session = await _call(
            self.wa.api.create_upload_session(
                app_id=str(app_id),
                file_name=quote(file_name, safe=""),
                file_length=len(data),
                file_type=file_type,
            )
        )
        answer = await _call(self.wa.api.upload_file(upload_session_id=session["id"], file=data))
        return str(answer["h"])

    async def update_template(self, template_id: str, template: dict[str, Any]) -> dict[str, Any]:
        update = self.wa.api.update_template
        return dict(await _call(update(template_id=template_id, template=template)))  # type: ignore[arg-type]

    async def delete_template(self, name: str, template_id: str | None = None) -> dict[str, Any]:
        return dict(
            await _call(
                self.wa.api.delete_template(
                    waba_id=self._waba(), template_name=name, template_id=template_id
                )
            )
        )

    def _waba(self) -> str:
        if not self.waba_id:
            raise errors.ParameterError(
                None, "No business account id", "set the business account id of this number"
            )
        return str(self.waba_id)

    async def phone_number_details(self, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
        return await _call(
            self.wa.api.get_business_phone_number(phone_id=self.phone_id, fields=fields)
        )

    async def debug_token(self, appsecret_proof: str | None = None) -> dict[str, Any]:
        """GET /debug_token about this client's own token: validity, type, expiry, scopes.

        With `appsecret_proof` Meta also checks the app secret (error 100 when it is wrong).
        """
        params = {"input_token": self.wa.token}
        if appsecret_proof:
            params["appsecret_proof"] = appsecret_proof
        answer = await _call(
            self.wa.api._request(method="GET", endpoint="/debug_token", params=params)
        )
        return dict(answer.get("data") or {})

    async def subscribed_apps(self) -> list[dict[str, Any]]:
        """The apps subscribed to the business account's webhooks (GET /{waba-id}/subscribed_apps)."""
        answer = await _call(self.wa.api.get_waba_subscribed_apps(waba_id=str(self.waba_id)))
        return [d.get("whatsapp_business_api_data") or {} for d in answer.get("data", [])]

    async def subscribe_app(self) -> None:
        """Subscribe the token's app to the business account's webhooks (POST, idempotent)."""
        await _call(
            self.wa.api._request(method="POST", endpoint=f"/{self.waba_id}/subscribed_apps")
        )

    async def _send(self, to: str, typ: str, body: dict[str, Any], reply_to: str | None) -> str:
        """A message type pywa has no flat method for (media by id), through pywa's Graph API call."""
        target = {"to": None, "recipient": to} if "." in to else {"to": to, "recipient": None}
        answer = await _call(
            self.wa.api.send_message(
                sender=self.phone_id,
                **target,
                recipient_type="individual",
                typ=typ,
                msg=body,
                reply_to_message_id=reply_to,
            )
        )
        return str(answer["messages"][0]["id"])


@asynccontextmanager
async def client_for(config: dict[str, Any], graph: GraphApi) -> AsyncIterator[WhatsAppClient]:
    """A client for a decrypted configuration row (from wacrm.numbers.service.get_by_agent_id)
    on `graph` (`settings.graph_api`).

    Kept for the next send of the same number and token, over this event loop's shared pool.
    """
    key = (
        str(config["phone_number_id"]),
        config["access_token"],
        config.get("business_account_id"),
        graph,
    )
    shared = _shared_for_loop()
    client = shared.clients.get(key)
    if client is None:
        client = WhatsAppClient(
            phone_id=key[0],
            token=key[1],
            graph=graph,
            waba_id=key[2],
            transport=shared.transport(key[0]),
        )
        shared.clients[key] = client
        if len(shared.clients) > CACHED_CLIENTS:
            shared.clients.popitem(last=False)
    else:
        shared.clients.move_to_end(key)
    yield client
