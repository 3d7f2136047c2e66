"""Server-side tests of the web pages: sign-in, headers, workspace scoping, escaping, bad input."""

from __future__ import annotations

from tests.conversations.factory import add_customer, add_message
from tests.web.conftest import PASSWORD, post_login, sign_in, user_with_password


async def test_pages_need_sign_in_and_redirect_back(client):
    response = await client.get("/inbox?unread=true")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Finbox%3Funread%3Dtrue"
    htmx = await client.get("/inbox/list", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"] == "/login"
    assert (await client.get("/")).headers["location"] == "/inbox"


async def test_security_headers_on_web_pages_not_on_api(client):
    page = await client.get("/login")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    # 'self' and the emoji picker's one <style> element, allowed by the hash of its exact text
    style_src = directives["style-src"].split()
    assert style_src[0] == "'self'" and len(style_src) == 2 and style_src[1].startswith("'sha256-")
    # only style attributes (set by htmx and Chart.js) may be inline; no inline script or <style>
    assert [name for name, value in directives.items() if "unsafe-inline" in value] == [
        "style-src-attr"
    ]
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text and " onclick=" not in page.text
    static = await client.get("/static/app.js")
    assert static.status_code == 200 and static.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in (await client.get("/healthz")).headers


async def test_wrong_password_is_refused_and_open_redirect_ignored(client, conn):
    await user_with_password(conn, "ann@example.com")
    bad = await post_login(client, {"email": "ann@example.com", "password": "nope"})
    assert bad.status_code == 401 and "wrong email or password" in bad.text
    assert "wacrm_session" not in bad.cookies
    good = await post_login(
        client,
        {"email": "ann@example.com", "password": PASSWORD, "next": "//evil.example/x"},
    )
    assert good.status_code == 303 and good.headers["location"] == "/inbox"


async def test_inbox_lists_conversations_with_escaped_text(client, conn):
    ann = await user_with_password(conn, "ann@example.com")
    cid = await add_customer(conn, ann["tables"], "<b>Bob</b>", phone="+4915100000001")
    await add_message(conn, ann["tables"], cid, "red shoes please")
    await add_message(conn, ann["tables"], cid, "<script>alert(1)</script>")
    await sign_in(client, "ann@example.com")
    page = await client.get("/inbox")
    assert page.status_code == 200
    assert "&lt;b&gt;Bob&lt;/b&gt;" in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert" not in page.text
    assert f'href="/chat/{cid}"' in page.text
    assert f"/api/v1/events?agent_id={ann['agent']['id']}" in page.text
    found = await client.get("/inbox/list", params={"q": "shoe"})
    assert f'href="/chat/{cid}"' in found.text
    none = await client.get("/inbox/list", params={"q": "zzzz"})
    assert "No conversation matches" in none.text
    assert (await client.get("/inbox/list", params={"cursor": "garbage"})).status_code == 400
    assert (await client.get("/inbox", params={"q": "x" * 101})).status_code == 422


async def test_logout_needs_csrf_and_ends_the_session(client, conn):
    await user_with_password(conn, "ann@example.com")
    csrf = await sign_in(client, "ann@example.com")
    assert (await client.post("/logout", data={})).status_code == 403
    assert (await client.get("/inbox")).status_code == 200
    out = await client.post("/logout", data={"csrf_token": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    client.cookies.clear()
    assert (await client.get("/inbox")).status_code == 303


async def test_password_change(client, conn):
    await user_with_password(conn, "ann@example.com")
    csrf = await sign_in(client, "ann@example.com")
    differ = await client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current_password": PASSWORD,
            "new_password": "a new long passphrase",
            "confirm_password": "another one",
        },
    )
    assert differ.status_code == 400 and "differ" in differ.text
    wrong = await client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current_password": "wrong",
            "new_password": "a new long passphrase",
            "confirm_password": "a new long passphrase",
        },
    )
    assert wrong.status_code == 403
    ok = await client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current_password": PASSWORD,
            "new_password": "a new long passphrase",
            "confirm_password": "a new long passphrase",
        },
    )
    assert ok.status_code == 200 and "Your password was changed" in ok.text
    client.cookies.clear()
    await sign_in(client, "ann@example.com", "a new long passphrase")


async def test_admin_switches_workspace_agent_cannot(client, conn):
    ann = await user_with_password(conn, "ann@example.com")
    bea = await user_with_password(conn, "bea@example.com")
    await user_with_password(conn, "root@example.com", role="admin", agent=False)
    c_ann = await add_customer(conn, ann["tables"], "Ann's customer", phone="+4915100000002")
    c_bea = await add_customer(conn, bea["tables"], "Bea's customer", phone="+4915100000003")
    await add_message(conn, ann["tables"], c_ann, "hello ann")
    await add_message(conn, bea["tables"], c_bea, "hello bea")
    csrf = await sign_in(client, "root@example.com")
    page = await client.get("/inbox")
    assert "Workspace" in page.text and "Admin" in page.text
    switched = await client.post(
        "/workspace", data={"csrf_token": csrf, "agent_id": bea["agent"]["id"], "next": "/inbox"}
    )
    assert switched.status_code == 303
    page = await client.get("/inbox")
    assert "Bea&#39;s customer" in page.text and "Ann&#39;s customer" not in page.text
    missing = await client.post("/workspace", data={"csrf_token": csrf, "agent_id": 999999})
    assert missing.status_code == 404
    assert (
        await client.post("/workspace", data={"csrf_token": csrf, "agent_id": "x"})
    ).status_code == 422

    client.cookies.clear()
    csrf = await sign_in(client, "ann@example.com")
    page = await client.get("/inbox")
    assert 'href="/admin"' not in page.text and "Ann&#39;s customer" in page.text
    refused = await client.post(
        "/workspace", data={"csrf_token": csrf, "agent_id": bea["agent"]["id"]}
    )
    assert refused.status_code == 404  # not a member of Bea's workspace: it does not exist for Ann
    client.cookies.set("wacrm_workspace", str(bea["agent"]["id"]))
    assert "Bea&#39;s customer" not in (await client.get("/inbox")).text


async def test_chat_page_renders_and_scopes_and_reads_on_post(client, conn):
    ann = await user_with_password(conn, "ann@example.com")
    bea = await user_with_password(conn, "bea@example.com")
    cid = await add_customer(conn, ann["tables"], "Carla", phone="+4915100000004")
    for n in range(3):  # ids are per agent: Bea's customer gets an id Ann's tables do not have
        await add_customer(conn, bea["tables"], f"B{n}", phone=f"+491510000010{n}")
    other = await add_customer(conn, bea["tables"], "Bea's customer", phone="+4915100000005")
    await add_message(conn, ann["tables"], cid, "<img src=x onerror=alert(1)>")
    await add_message(conn, ann["tables"], cid, "thanks", direction="outbound", status="read")
    csrf = await sign_in(client, "ann@example.com")
    page = await client.get(f"/chat/{cid}")
    assert page.status_code == 200, page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert 'data-tick="read"' in page.text
    assert "Carla" in page.text and "New order" in page.text
    unread = ann["tables"].query("SELECT unread_count FROM {customers} WHERE id = %s")
    assert (await (await conn.execute(unread, (cid,))).fetchone())["unread_count"] == 1  # a GET
    assert 'data-unread="1"' in page.text  # the page posts the read when it is seen
    read = await client.post(f"/chat/{cid}/read", headers={"X-CSRF-Token": csrf})
    assert read.status_code == 204
    assert (await (await conn.execute(unread, (cid,))).fetchone())["unread_count"] == 0
    # another agent's customer id, and one that does not exist: not found
    assert (await client.get(f"/chat/{other}")).status_code == 404
    assert (await client.get("/chat/999999")).status_code == 404
    assert (await client.get("/chat/0")).status_code == 422
    recent = await client.get(f"/chat/{cid}/recent")
    assert recent.status_code == 200 and "thanks" in recent.text
    assert (await client.get(f"/chat/{cid}/recent", params={"anchor": "bad"})).status_code == 400
    assert (await client.get(f"/chat/{cid}/older", params={"cursor": "bad"})).status_code == 400


async def test_chat_forms_validate_input(client, conn):
    ann = await user_with_password(conn, "ann@example.com")
    cid = await add_customer(conn, ann["tables"], "Dora", phone="+4915100000006")
    await add_message(conn, ann["tables"], cid, "hi")
    csrf = await sign_in(client, "ann@example.com")
    headers = {"X-CSRF-Token": csrf}
    empty = await client.post(f"/chat/{cid}/send", data={"text": "  "}, headers=headers)
    assert empty.status_code == 400 and "write a message" in empty.text
    assert (await client.post(f"/chat/{cid}/send", data={"text": "x"})).status_code == 403
    blank = await client.post(f"/chat/{cid}/name", data={"name": " "}, headers=headers)
    assert blank.status_code == 400 and "name is empty" in blank.text
    renamed = await client.post(f"/chat/{cid}/name", data={"name": "Dora <Q>"}, headers=headers)
    assert renamed.status_code == 200 and 'value="Dora &lt;Q&gt;"' in renamed.text
    bad_order = await client.post(
        f"/chat/{cid}/orders",
        headers=headers,
        data={"item_name": ["Shoes"], "item_quantity": ["two"], "item_price": ["10.00"]},
    )
    assert bad_order.status_code == 422 and "quantity" in bad_order.text
    no_items = await client.post(f"/chat/{cid}/orders", headers=headers, data={"item_name": [""]})
    assert no_items.status_code == 400
    order = await client.post(
        f"/chat/{cid}/orders",
        headers=headers,
        data={"item_name": ["Shoes", ""], "item_quantity": ["2", "1"], "item_price": ["10.50", ""]},
    )
    assert order.status_code == 200, order.text
    assert "21.00" in order.text and "pending" in order.text
    cur = await conn.execute(ann["tables"].query("SELECT count(*) AS n FROM {orders}"))
    assert (await cur.fetchone())["n"] == 1
    assert (await client.post(f"/chat/{cid}/retry/12345", headers=headers)).status_code == 404
