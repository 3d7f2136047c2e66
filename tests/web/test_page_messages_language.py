"""Messages made in Python reach pages in the viewer's language (issue 17): pydantic's validation
errors (by type code and ctx), stored contact-import row errors and failures (by code), the
template form's field checks and agent provisioning errors; the JSON API keeps English."""

from __future__ import annotations

import json

from pydantic import BaseModel, Field, ValidationError

from tests.conversations.factory import add_customer
from tests.web.conftest import PASSWORD, csrf_of, post_login, sign_in, user_with_password
from wacrm import i18n
from wacrm.contacts import imports
from wacrm.i18n import validation
from wacrm.wa_templates import rules


class _Form(BaseModel):
    name: str = Field(min_length=3)
    quantity: int = Field(gt=0)
    kind: str = Field(pattern="^(a|b)$")


def _errors(**values) -> list:
    try:
        _Form(**values)
    except ValidationError as exc:
        return exc.errors()
    raise AssertionError("valid")


def _in(language: str, value) -> str:
    token = i18n.set_viewer(i18n.Viewer(language=language))
    try:
        return str(value)
    finally:
        i18n.reset_viewer(token)


def test_pydantic_errors_by_type_and_ctx() -> None:
    by_field = {
        e["loc"][0]: validation.message(e) for e in _errors(name="x", quantity="0", kind="c")
    }
    assert _in("pt_BR", by_field["name"]) == "curto demais: escreva pelo menos 3 caracteres"
    assert _in("de", by_field["quantity"]) == "muss größer als 0 sein"
    assert _in("es", by_field["kind"]) == "no tiene el formato esperado"
    assert _in("en", by_field["name"]) == "too short: write at least 3 characters"
    missing = validation.message({"type": "missing", "loc": ("body", "x"), "msg": "Field required"})
    assert _in("pt_BR", missing) == "este campo é obrigatório"
    unknown = validation.message({"type": "some_new_type", "msg": "Something"})
    assert _in("de", unknown) == "dieser Wert ist ungültig"
    # a ctx that lacks the msgid's value: the general sentence, never a KeyError
    assert _in("es", validation.message({"type": "greater_than", "ctx": {}})) == (
        "este valor no es válido"
    )


def test_template_field_checks_are_translated() -> None:
    draft = rules.Draft(name="Bad Name", language="english", category="AUTH", body="x" * 1025)
    found = rules.check(draft)
    assert _in("pt_BR", found["body"]) == "no máximo 1024 caracteres"
    assert _in("de", found["category"]) == "wählen Sie MARKETING oder UTILITY"
    assert found["name"].english().startswith("lower-case letters")


async def test_a_pages_validation_error_in_portuguese_and_the_api_in_english(client, conn):
    ana = await user_with_password(conn, "ana@example.com")
    customer = await add_customer(conn, ana["tables"], "Bia", phone="+5511900000001")
    csrf = await sign_in(client, "ana@example.com")
    headers = {"Accept-Language": "pt-BR", "HX-Request": "true"}
    answer = await client.post(
        f"/chat/{customer}/notes", data={"csrf_token": csrf, "body": "x" * 20001}, headers=headers
    )
    assert answer.status_code == 422
    assert "longo demais: escreva no máximo 20000 caracteres" in answer.text
    assert 'data-field="body"' in answer.text
    assert "String should have" not in answer.text


async def test_import_row_errors_and_failures_in_the_viewers_language(client, conn):
    ana = await user_with_password(conn, "ana@example.com")
    agent_id = ana["agent"]["id"]
    data = b"Name,Phone,Opt-in\nAda,+4915123456789,maybe\nBob,12,\nCy,,\n"
    checked = await imports.check_upload(
        conn, agent_id=agent_id, filename="p.csv", data=data, country="DE", created_by=None
    )
    stored = checked["errors"]
    assert [e["code"] for e in stored] == ["yes_or_no", "invalid_phone", "no_phone"]
    assert stored[1]["params"] == {"region": "DE"}
    assert stored[1]["message"] == "not a valid phone number for DE"  # English kept (API, CLI)
    # an import checked before codes existed keeps its English reason
    old = [{"line": 9, "column": "phone", "value": "0", "message": "an old reason"}]
    await conn.execute(
        "UPDATE contact_imports SET errors = %s::jsonb || errors WHERE id = %s",
        (json.dumps(old), checked["id"]),
    )
    csrf = await sign_in(client, "ana@example.com")
    await client.post(
        "/account/preferences", data={"csrf_token": csrf, "language": "pt_BR", "time_zone": ""}
    )
    page = (await client.get(f"/customers/import/{checked['id']}")).text
    assert "não é um número de telefone válido para DE" in page
    assert "escreva sim ou não (ou deixe vazio se não souber)" in page
    assert "ausente (uma linha precisa de um número de telefone ou de um bsuid)" in page
    assert "an old reason" in page
    assert "not a valid phone number" not in page
    await conn.execute(
        """UPDATE contact_imports SET state = 'failed', failure = 'nothing was imported: X: y',
             failure_code = 'not_written', failure_params = '{"error": "X: y"}' WHERE id = %s""",
        (checked["id"],),
    )
    page = (await client.get(f"/customers/import/{checked['id']}")).text
    assert "nada foi importado: X: y" in page


async def test_agent_provisioning_errors_on_the_admin_page_in_german(client, conn):
    await user_with_password(conn, "root@example.com", role="admin", agent=False)
    bea = await user_with_password(conn, "bea@example.com")
    signed = await post_login(client, {"email": "root@example.com", "password": PASSWORD})
    assert signed.status_code == 303
    csrf = csrf_of((await client.get("/account/password")).text)
    refused = await client.post(
        "/admin/agents",
        data={"csrf_token": csrf, "user_id": str(bea["user"]["id"])},
        headers={"Accept-Language": "de-DE"},
    )
    assert refused.status_code == 409
    prefix = bea["agent"]["agent_prefix"]
    assert f"dieser Benutzer ist bereits mit Agent {prefix} verknüpft" in refused.text
    assert "already linked" not in refused.text
    api = await client.post(
        "/api/v1/agents",
        json={"user_id": str(bea["user"]["id"])},
        headers={"Accept-Language": "de-DE", "X-CSRF-Token": csrf},
    )
    assert "already linked" in api.json()["detail"]
