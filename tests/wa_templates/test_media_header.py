"""Media headers (IMAGE, VIDEO, DOCUMENT) of templates: a sample uploaded through the sandbox's
Resumable Upload API over real HTTP, its handle in `example.header_handle`, the review accepting
handles it issued and refusing others."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.broadcasts.conftest import graph_base  # noqa: F401 - fixture
from tests.helpers import configure_sandbox_number, make_agent_user
from tests.sandbox_fixture import DEFAULT_NUMBER
from wacrm.numbers import service as numbers
from wacrm.wa_templates import rules, service

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
APP_ID = "1185423096147051"
AUTH = {"Authorization": f"OAuth {DEFAULT_NUMBER['access_token']}"}


def _draft(**fields: Any) -> rules.Draft:
    base = {
        "name": "order_photo",
        "language": "en_US",
        "category": "UTILITY",
        "body": "Hi {{1}}, here is your order.",
        "body_examples": ["Ana"],
        "header_format": "IMAGE",
    }
    return rules.Draft(**{**base, **fields})


def test_media_header_rules_and_components() -> None:
    assert "upload a sample image" in str(rules.check(_draft())["header_file"])
    assert "choose text" in str(rules.check(_draft(header_format="GIF"))["header_format"])
    draft = _draft(header_handle="4::abc")
    assert rules.check(draft) == {}
    header = rules.components(draft)[0]
    assert header == {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::abc"]}}
    back = rules.draft_of(
        {"name": draft.name, "language": "en_US", "category": "UTILITY", "components": [header]}
    )
    assert (back.header_format, back.header_handle) == ("IMAGE", "4::abc")
    assert rules.header_media([header]) == "image"
    assert rules.header_media([{"type": "HEADER", "format": "TEXT", "text": "x"}]) is None


@pytest.mark.parametrize(
    ("kind", "content_type", "size", "problem"),
    [
        ("IMAGE", "image/png", 1000, None),
        ("IMAGE", "image/gif", 1000, "image/jpeg, image/png"),
        ("IMAGE", "image/jpeg", 5 * 1024 * 1024 + 1, "at most 5 MB"),
        ("VIDEO", "video/mp4", 16 * 1024 * 1024, None),
        ("VIDEO", "video/quicktime", 10, "video/mp4"),
        ("DOCUMENT", "application/pdf", 0, "not empty"),
        ("DOCUMENT", "image/png", 10, "application/pdf"),
    ],
)
def test_sample_type_and_size(kind: str, content_type: str, size: int, problem: str | None) -> None:
    found = rules.check_sample(kind, content_type, size)
    assert (found is None) if problem is None else (problem in str(found))


async def test_upload_api_plays_meta(graph_base: Any) -> None:  # noqa: F811
    graph_base.register_number()
    async with httpx.AsyncClient(base_url=graph_base.graph_url, trust_env=False) as http:
        bad_type = await http.post(
            f"/{APP_ID}/uploads",
            params={"file_length": 9, "file_type": "image/gif"},
            headers=AUTH,
        )
        assert bad_type.status_code == 400 and bad_type.json()["error"]["code"] == 100
        assert "file_type" in bad_type.json()["error"]["error_data"]["details"]
        other_app = await http.post(
            "/999/uploads", params={"file_length": 9, "file_type": "image/png"}, headers=AUTH
        )
        assert other_app.status_code == 400 and "does not exist" in other_app.text
        no_token = await http.post(
            f"/{APP_ID}/uploads", params={"file_length": 9, "file_type": "image/png"}
        )
        assert no_token.json()["error"]["code"] == 190
        missing = await http.post("/upload:nope", content=PNG, headers={**AUTH, "file_offset": "0"})
        assert missing.status_code == 400 and "Invalid upload session" in missing.text
        opened = await http.post(
            f"/{APP_ID}/uploads",
            params={"file_length": len(PNG), "file_type": "image/png", "file_name": "a.png"},
            headers=AUTH,
        )
        session = opened.json()["id"]
        assert session.startswith("upload:")
        wrong_offset = await http.post(
            f"/{session}", content=PNG, headers={**AUTH, "file_offset": "5"}
        )
        assert wrong_offset.status_code == 400
        done = await http.post(f"/{session}", content=PNG, headers={**AUTH, "file_offset": "0"})
        assert done.status_code == 200 and done.json()["h"].startswith("4::")
        status = await http.get(f"/{session}", headers=AUTH)
        assert status.json()["file_offset"] == len(PNG)


async def _sandbox_status(graph: Any, name: str) -> str | None:
    async with httpx.AsyncClient(base_url=graph.graph_url, trust_env=False) as http:
        answer = await http.get(
            f"/{DEFAULT_NUMBER['waba_id']}/message_templates",
            params={"name": name},
            headers={"Authorization": f"Bearer {DEFAULT_NUMBER['access_token']}"},
        )
    found = answer.json()["data"]
    return found[0]["status"] if found else None


async def test_image_header_template_end_to_end(conn: Any, graph_base: Any) -> None:  # noqa: F811
    graph_base.register_number()
    user = await make_agent_user(conn, "shop@example.com")
    await configure_sandbox_number(conn, user["user_id"], DEFAULT_NUMBER)
    config = await numbers.get_by_agent_id(conn, agent_id=user["agent"]["id"])
    assert config is not None
    draft = _draft()
    with pytest.raises(service.TemplateError) as wrong:
        await service.attach_sample(
            config, draft, PNG, "image/gif", "a.gif", graph=graph_base.graph
        )
    assert "image/jpeg, image/png" in str(wrong.value.errors["header_file"])
    await service.attach_sample(
        config, draft, PNG, "image/png", "photo.png", graph=graph_base.graph
    )
    assert draft.header_handle.startswith("4::")
    await service.submit(conn, config=config, draft=draft, graph=graph_base.graph)
    row = await service.get(conn, config_id=config["id"], name="order_photo", language="en_US")
    assert row is not None and row["components"][0]["format"] == "IMAGE"
    deadline = time.monotonic() + 10
    while await _sandbox_status(graph_base, "order_photo") != "APPROVED":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # a handle the upload API never issued, or of another type, is refused by the review
    with pytest.raises(service.TemplateError, match="handle is invalid"):
        await service.submit(
            conn,
            config=config,
            draft=_draft(name="forged", header_handle="4::forged"),
            graph=graph_base.graph,
        )
    video = _draft(name="order_video", header_format="VIDEO", header_handle=draft.header_handle)
    with pytest.raises(service.TemplateError, match="VIDEO header cannot have a sample"):
        await service.submit(conn, config=config, draft=video, graph=graph_base.graph)
    assert await service.get(conn, config_id=config["id"], name="forged", language="en_US") is None


async def test_template_page_media_header(client: Any, conn: Any, graph_base: Any) -> None:  # noqa: F811
    from tests.web.conftest import PASSWORD, sign_in
    from wacrm.accounts.service import set_password

    graph_base.register_number()
    user = await make_agent_user(conn, "shop@example.com")
    await configure_sandbox_number(conn, user["user_id"], DEFAULT_NUMBER)
    await set_password(conn, user_id=user["user_id"], password=PASSWORD)
    csrf = await sign_in(client, "shop@example.com")
    page = await client.get("/templates")
    assert 'enctype="multipart/form-data"' in page.text and 'name="header_format"' in page.text
    form = {
        "csrf_token": csrf,
        "name": "order_photo",
        "language": "en_US",
        "category": "UTILITY",
        "header_format": "IMAGE",
        "body": "Hi {{1}}, here is your order.",
        "body_examples": "Ana",
    }
    no_file = await client.post("/templates", data=form, files={"x": ("", b"")})
    assert no_file.status_code == 422 and "upload a sample image" in no_file.text
    assert (
        'value="Hi {{1}}, here is your order."' in no_file.text
        or "here is your order" in no_file.text
    )
    gif = await client.post(
        "/templates", data=form, files={"header_file": ("a.gif", b"GIF89a", "image/gif")}
    )
    assert gif.status_code == 422 and "image/jpeg, image/png" in gif.text
    done = await client.post(
        "/templates", data=form, files={"header_file": ("photo.png", PNG, "image/png")}
    )
    assert done.status_code == 303, done.text
    config = await numbers.get_by_agent_id(conn, agent_id=user["agent"]["id"])
    assert config is not None
    row = await service.get(conn, config_id=config["id"], name="order_photo", language="en_US")
    assert row is not None
    handle = row["components"][0]["example"]["header_handle"][0]
    assert handle.startswith("4::")
    # editing keeps the uploaded sample (a hidden field) unless another file is chosen
    edit = await client.get("/templates/edit", params={"name": "order_photo", "language": "en_US"})
    assert f'name="header_handle" value="{handle}"' in edit.text
    assert '<option value="IMAGE" selected' in edit.text


async def test_sending_a_media_header_template(conn: Any, db_url: str, graph_base: Any) -> None:  # noqa: F811
    from tests.outbound.conftest import add_customer, wait_status, worker
    from wacrm.outbound import service as outbound
    from wacrm.outbound.schemas import TemplateContent, TemplateHeaderMedia

    graph_base.register_number()
    user = await make_agent_user(conn, "shop@example.com")
    await configure_sandbox_number(conn, user["user_id"], DEFAULT_NUMBER)
    config = await numbers.get_by_agent_id(conn, agent_id=user["agent"]["id"])
    assert config is not None
    draft = _draft()
    await service.attach_sample(
        config, draft, PNG, "image/png", "photo.png", graph=graph_base.graph
    )
    await service.submit(conn, config=config, draft=draft, graph=graph_base.graph)
    deadline = time.monotonic() + 10
    while await _sandbox_status(graph_base, "order_photo") != "APPROVED":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    customer = await add_customer(conn, user["tables"], "+4915123456791", sandbox=graph_base)
    send = {
        "conn": conn,
        "tables": user["tables"],
        "agent_id": user["agent"]["id"],
        "customer_id": customer["id"],
        "sent_by": None,
    }
    with pytest.raises(outbound.OutboundError, match="has an image header: give its image"):
        await outbound.queue_message(
            **send, content=TemplateContent(name="order_photo", body_params=["Ana"])
        )
    with pytest.raises(ValueError, match="link .* or a media id"):
        TemplateHeaderMedia(type="image")
    photo = TemplateHeaderMedia(type="image", link="https://shop.example/p.png")
    message = await outbound.queue_message(
        **send,
        content=TemplateContent(name="order_photo", body_params=["Ana"], header_media=photo),
    )
    async with worker(db_url):
        await wait_status(conn, user["tables"], message["id"], {"sent", "delivered", "read"})
    sent = graph_base.sent_messages(to="4915123456791")["messages"][-1]
    header = sent["request"]["template"]["components"][0]
    assert header == {
        "type": "header",
        "parameters": [{"type": "image", "image": {"link": "https://shop.example/p.png"}}],
    }
    # Meta (the sandbox) refuses the send without the header's media
    async with httpx.AsyncClient(base_url=graph_base.graph_url, trust_env=False) as http:
        bare = await http.post(
            f"/{DEFAULT_NUMBER['phone_number_id']}/messages",
            headers={"Authorization": f"Bearer {DEFAULT_NUMBER['access_token']}"},
            json={
                "messaging_product": "whatsapp",
                "to": "4915123456791",
                "type": "template",
                "template": {
                    "name": "order_photo",
                    "language": {"code": "en_US"},
                    "components": [
                        {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}
                    ],
                },
            },
        )
    assert bare.status_code == 400 and bare.json()["error"]["code"] == 132012


async def test_chat_composer_asks_for_the_header_media(
    client: Any,
    conn: Any,
    graph_base: Any,  # noqa: F811
) -> None:
    from tests.outbound.conftest import add_customer
    from tests.web.conftest import PASSWORD, sign_in
    from wacrm.accounts.service import set_password
    from wacrm.outbound import templates as cache

    graph_base.register_number()
    user = await make_agent_user(conn, "shop@example.com")
    await configure_sandbox_number(conn, user["user_id"], DEFAULT_NUMBER)
    config = await numbers.get_by_agent_id(conn, agent_id=user["agent"]["id"])
    assert config is not None
    draft = _draft()
    await service.attach_sample(
        config, draft, PNG, "image/png", "photo.png", graph=graph_base.graph
    )
    await service.submit(conn, config=config, draft=draft, graph=graph_base.graph)
    deadline = time.monotonic() + 10
    while await _sandbox_status(graph_base, "order_photo") != "APPROVED":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    await cache.refresh(conn, config=config, graph=graph_base.graph)
    customer = await add_customer(conn, user["tables"], "+4915123456792", written_ago=None)
    await set_password(conn, user_id=user["user_id"], password=PASSWORD)
    csrf = await sign_in(client, "shop@example.com")
    key = "order_photo|en_US"
    page = await client.get(f"/chat/{customer['id']}")
    assert f'name="th:{key}"' in page.text and f'name="thk:{key}" value="image"' in page.text
    form = {"csrf_token": csrf, "template": key, f"tp:{key}:1": "Ana", f"thk:{key}": "image"}
    url = f"/chat/{customer['id']}/send"
    missing = await client.post(url, data=form)
    assert missing.status_code == 422 and "has an image header: give its image" in missing.text
    assert 'value="Ana"' in missing.text
    sent = await client.post(url, data={**form, f"th:{key}": "https://shop.example/p.png"})
    assert sent.status_code == 200, sent.text
    cur = await conn.execute(
        user["tables"].query("SELECT payload FROM {messages} WHERE customer_id = %s"),
        (customer["id"],),
    )
    payloads = [r["payload"] for r in await cur.fetchall()]
    assert [p["header_media"] for p in payloads] == [
        {"type": "image", "link": "https://shop.example/p.png", "id": None, "filename": None}
    ]


@pytest.mark.parametrize(
    ("kind", "content_type", "data"),
    [("DOCUMENT", "application/pdf", b"%PDF-1.4\n%%EOF\n"), ("VIDEO", "video/mp4", b"\x00" * 32)],
)
async def test_document_and_video_headers_are_approved(
    conn: Any,
    graph_base: Any,  # noqa: F811
    kind: str,
    content_type: str,
    data: bytes,
) -> None:
    graph_base.register_number()
    user = await make_agent_user(conn, "shop@example.com")
    await configure_sandbox_number(conn, user["user_id"], DEFAULT_NUMBER)
    config = await numbers.get_by_agent_id(conn, agent_id=user["agent"]["id"])
    assert config is not None
    name = f"order_{kind.lower()}"
    draft = _draft(name=name, header_format=kind)
    await service.attach_sample(
        config, draft, data, content_type, f"sample of {name}", graph=graph_base.graph
    )
    await service.submit(conn, config=config, draft=draft, graph=graph_base.graph)
    deadline = time.monotonic() + 10
    while await _sandbox_status(graph_base, name) != "APPROVED":
        assert time.monotonic() < deadline
        time.sleep(0.1)
