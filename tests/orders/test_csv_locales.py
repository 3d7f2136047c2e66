"""CSV exports opened by spreadsheets in ';' locales (issue 13 item 8): no cell becomes a formula
however the file is split, in every text column of every export, and phones stay readable."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from tests.helpers import bearer
from wacrm.orders import service as orders

HOSTILE = [
    "Ana;=1+41;@SUM(1+1)",
    "Bob,=2+2",
    'Cy; =HYPERLINK("http://evil.example")',
    "Di\t-3+3",
    "Ed\n=cmd|' /C calc'!A0",
    "Fay;＝1+1",
    "=1+1;ok",
    "Gil;+4+4,@x",
]
FORMULA = ("=", "+", "-", "@", "＝", "＋", "－", "＠", "\t", "\r", "\n")
NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
EXPORTS = [
    ("/api/v1/orders/export.csv", "agent"),
    ("/api/v1/customers/export.csv", "agent"),
    ("/api/v1/admin/orders/export.csv", "admin"),
    ("/api/v1/admin/customers/export.csv", "admin"),
]


@pytest.fixture
async def hostile_rows(conn: Any, agent: dict[str, Any]) -> None:
    """Every text column a customer or agent writes carries a value hiding formulas after separators."""
    t = agent["tables"]
    for i, evil in enumerate(HOSTILE):
        cur = await conn.execute(
            t.query(
                "INSERT INTO {customers} (name, phone, username) VALUES (%s, %s, %s) RETURNING id"
            ),
            (evil, f"+49176123456{i:02d}", evil),
        )
        cid = (await cur.fetchone())["id"]
        await orders.create_order(
            conn,
            tables=t,
            customer_id=cid,
            notes=evil,
            shipping_address=evil,
            items=[{"name": evil, "quantity": 1, "price": "1.00", "product_retailer_id": evil}],
        )


def harmless(cell: str) -> bool:
    text = cell.strip(' "')
    return not text.startswith(FORMULA) or bool(NUMBER.fullmatch(text))


def cells_as_spreadsheets_split_them(text: str) -> dict[str, list[str]]:
    """The cells seen by: an RFC 4180 reader (','), Excel in a ';' locale (quotes honoured), and
    naive splitters that ignore quotes (on ';', ',', tab and line breaks)."""
    views = {
        "comma": [c for row in csv.reader(io.StringIO(text)) for c in row],
        "semicolon": [c for row in csv.reader(io.StringIO(text), delimiter=";") for c in row],
    }
    views["naive"] = re.split(r"[;,\t\r\n]", text)
    return views


@pytest.mark.parametrize("url,who", EXPORTS)
async def test_no_cell_starts_a_formula_in_any_locale(
    client, agent, admin, hostile_rows, url, who
) -> None:
    token = agent["token"] if who == "agent" else admin["token"]
    response = await client.get(url, headers=bearer(token))
    assert response.status_code == 200, response.text
    for view, cells in cells_as_spreadsheets_split_them(response.text).items():
        bad = [c for c in cells if not harmless(c)]
        assert bad == [], (url, view, bad[:5])
    rows = list(csv.DictReader(io.StringIO(response.text)))
    column = "customer_name" if "orders" in url else "name"
    names = {row[column] for row in rows}
    assert "Ana;'=1+41;'@SUM(1+1)" in names  # one cell, the text kept readable
    assert "Ed\n'=cmd|' /C calc'!A0" in names


@pytest.mark.parametrize("url,who", EXPORTS)
async def test_phone_numbers_stay_readable(client, agent, admin, hostile_rows, url, who) -> None:
    token = agent["token"] if who == "agent" else admin["token"]
    response = await client.get(url, headers=bearer(token))
    rows = list(csv.DictReader(io.StringIO(response.text)))
    column = "customer_phone" if "orders" in url else "phone"
    phones = {row[column] for row in rows}
    assert "+4917612345600" in phones and not any(p.startswith("'") for p in phones)
    if "orders" in url:  # amounts stay numbers too
        assert {row["price"] for row in rows if row["item_id"]} == {"1.00"}
