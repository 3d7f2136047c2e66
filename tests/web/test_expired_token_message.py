"""Item 13.16: an expired token's failure is said once, and says who can fix it and how; an agent
is not told to change settings only administrators can change."""

from __future__ import annotations

import re

from tests.conversations.factory import add_customer, add_message
from tests.web.conftest import sign_in, user_with_password
from wacrm.outbound import errors


def test_explanations_name_who_fixes_it():
    agent, admin = errors.explain(190, is_admin=False), errors.explain(190, is_admin=True)
    for text in (agent, admin):
        assert "Admin › WhatsApp numbers" in text and "an administrator" in text
        assert text.count("Meta error 190") == 1
        assert "update it in the WhatsApp settings" not in text
    assert "Ask an administrator" in agent and "Retry" in agent
    assert "Ask an administrator" not in admin
    not_configured = errors.NotConfiguredError().explanation_for(is_admin=False)
    assert "an administrator connects one" in not_configured and "Ask an administrator" in (
        not_configured
    )
    # errors agents can fix themselves get no "ask an administrator"
    assert "administrator" not in errors.explain(131047, is_admin=False)


def _failure_text(html: str) -> str:
    match = re.search(r'<div class="failure" role="alert">(.*?)</div>', html, re.S)
    assert match, "no failure shown"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1)))


async def _failed_chat(conn, client, email, role, details):
    person = await user_with_password(conn, email, role=role)
    t = person["tables"]
    cid = await add_customer(conn, t, "Tess", phone="+4915100000051")
    mid = await add_message(conn, t, cid, "hello", direction="outbound")
    await conn.execute(
        t.query(
            "UPDATE {messages} SET status = 'failed', error_code = 190,"
            " error_title = 'Error validating access token: Session has expired.',"
            " error_details = %s WHERE id = %s"
        ),
        (details, mid),
    )
    await sign_in(client, email)
    return cid


async def test_agent_sees_the_expired_token_once_and_who_fixes_it(conn, client):
    cid = await _failed_chat(
        conn, client, "tess@example.com", "agent", "The access token has expired."
    )
    html = (await client.get(f"/chat/{cid}")).text
    text = _failure_text(html)
    assert text.count("access token") == 2  # ours once, Meta's own words once (folded away)
    assert text.count("190") == 1
    assert "Ask an administrator" in text and "Retry" in text
    assert "WhatsApp's words" in text and "The access token has expired." in text
    assert "update it in the WhatsApp settings" not in text


async def test_rows_stored_with_the_old_explanation_are_not_repeated(conn, client):
    old = (
        "the access token expired or is invalid: update it in the WhatsApp settings "
        "(Meta error 190). The access token has expired."
    )
    cid = await _failed_chat(conn, client, "old@example.com", "agent", old)
    text = _failure_text((await client.get(f"/chat/{cid}")).text)
    assert "update it in the WhatsApp settings" not in text
    assert text.count("190") == 1 and "The access token has expired." in text
