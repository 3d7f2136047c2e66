"""Meta's Resumable Upload API as the template review needs it: `POST /{app-id}/uploads` opens a
session (`upload:<id>`), `POST /upload:<id>` with the bytes and `file_offset: 0` answers the
handle `{"h": ...}` that a media HEADER gives as `example.header_handle`."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from wacrm.sandbox import errors
from wacrm.sandbox.graph import apply_fault
from wacrm.sandbox.state import Number, SandboxState, state_of

router = APIRouter()
FILE_TYPES = {"application/pdf", "image/jpeg", "image/jpg", "image/png", "video/mp4"}
MAX_LENGTH = 100 * 1024 * 1024


@dataclass
class Upload:
    app_id: str
    file_type: str
    file_length: int
    data: bytes = b""
    handle: str | None = None


def _sessions(state: SandboxState) -> dict[str, Upload]:
    return state.upload_sessions


def handles(state: SandboxState) -> dict[str, Upload]:
    """Handle -> its finished upload (what the template review accepts)."""
    return {u.handle: u for u in _sessions(state).values() if u.handle}


def _caller(request: Request) -> Number:
    """Step 2 sends `Authorization: OAuth <token>` (Bearer accepted too)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() not in ("oauth", "bearer"):
        token = request.query_params.get("access_token", "")
    number = state_of(request).number_for_token(token.strip() or None)
    if number is None:
        raise errors.invalid_token()
    return number


@router.post("/{app_id}/uploads")
async def open_session(app_id: str, request: Request) -> Response:
    number = _caller(request)
    if number.app_id != app_id:
        raise errors.unknown_object(app_id, "post")
    await apply_fault(request)
    file_type = request.query_params.get("file_type", "")
    if file_type not in FILE_TYPES:
        raise errors.invalid_parameter(
            f"Param file_type must be one of {{{', '.join(sorted(FILE_TYPES))}}}; got {file_type!r}."
        )
    length = request.query_params.get("file_length", "")
    if not length.isdigit() or not 0 < int(length) <= MAX_LENGTH:
        raise errors.invalid_parameter("Param file_length must be a positive integer (bytes).")
    session = "upload:" + base64.urlsafe_b64encode(secrets.token_bytes(18)).decode()
    _sessions(state_of(request))[session] = Upload(app_id, file_type, int(length))
    return JSONResponse({"id": session})


def _session(request: Request, session_id: str) -> Upload:
    number = _caller(request)
    upload = _sessions(state_of(request)).get(session_id)
    if upload is None or upload.app_id != number.app_id:
        raise errors.GraphError(
            100,
            "(#100) Invalid upload session",
            details=f"The upload session {session_id!r} does not exist or has expired.",
        )
    return upload


@router.get("/upload:{session}")
async def session_status(session: str, request: Request) -> Response:
    """Where an interrupted upload resumes: `{id, file_offset}`."""
    upload = _session(request, "upload:" + session)
    return JSONResponse({"id": "upload:" + session, "file_offset": len(upload.data)})


@router.post("/upload:{session}")
async def upload_bytes(session: str, request: Request) -> Response:
    upload = _session(request, "upload:" + session)
    await apply_fault(request)
    offset = request.headers.get("file_offset", "")
    if not offset.isdigit() or int(offset) != len(upload.data):
        raise errors.invalid_parameter(
            f"Header file_offset must be the current offset of the session, {len(upload.data)}."
        )
    upload.data += await request.body()
    if len(upload.data) > upload.file_length:
        upload.data = upload.data[: int(offset)]
        raise errors.invalid_parameter(
            f"More bytes than the session's file_length ({upload.file_length})."
        )
    if len(upload.data) < upload.file_length:
        return JSONResponse({"id": "upload:" + session, "file_offset": len(upload.data)})
    upload.handle = upload.handle or "4::" + base64.b64encode(secrets.token_bytes(36)).decode()
    return JSONResponse({"h": upload.handle})


def check_media_header(state: SandboxState, component: dict[str, Any]) -> None:
    """A HEADER of format IMAGE / VIDEO / DOCUMENT needs a handle this sandbox issued, of its type."""
    kind = str(component.get("format", "TEXT")).upper()
    if kind == "TEXT":
        return
    wanted = {"IMAGE": ("image/",), "VIDEO": ("video/",), "DOCUMENT": ("application/pdf",)}
    if kind not in wanted:
        raise errors.invalid_parameter(
            "Param components[0][format] must be TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION."
        )
    handle = ((component.get("example") or {}).get("header_handle") or [None])[0]
    upload = handles(state).get(str(handle)) if handle else None
    if upload is None:
        raise errors.GraphError(
            100,
            "(#100) Invalid parameter",
            subcode=2494102,
            details="Uploaded media handle is invalid: give example.header_handle from the "
            "Resumable Upload API.",
        )
    if not upload.file_type.startswith(wanted[kind]):
        raise errors.invalid_parameter(
            f"A {kind} header cannot have a sample of type {upload.file_type}."
        )
