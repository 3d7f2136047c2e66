"""Re-encrypting every stored secret after WACRM_SECRET_KEY changed."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql

from wacrm.security.crypto import SecretDecryptionError, decrypt_secret, encrypt_secret


async def rotate_secrets(
    conn: AsyncConnection[Any], *, old_key: str, new_key: str | None = None
) -> int:
    """Decrypt with `old_key` (values already under the new key are left) and re-encrypt; the count.

    One transaction: a value that neither key decrypts aborts everything.
    """
    changed = 0
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT id, api_key, app_secret FROM whatsapp_configuration ORDER BY id FOR UPDATE"
        )
        for row in await cur.fetchall():
            for column in ("api_key", "app_secret"):
                value = row[column]
                if not value:
                    continue
                try:
                    decrypt_secret(value, secret_key=new_key) if new_key else decrypt_secret(value)
                    continue  # already under the current key
                except SecretDecryptionError:
                    plain = decrypt_secret(value, secret_key=old_key)
                fresh = (
                    encrypt_secret(plain, secret_key=new_key) if new_key else encrypt_secret(plain)
                )
                await conn.execute(
                    sql.SQL("UPDATE whatsapp_configuration SET {} = %s WHERE id = %s").format(
                        sql.Identifier(column)
                    ),
                    (fresh, row["id"]),
                )
                changed += 1
    return changed
