"""The catalogue of one agent's tables as sorted lines, its prefix written <p> and its id <id>.

Independent of the database's own `wacrm_agent_catalogue` (which the template's self-check uses),
so a fault in one is not hidden by the same fault in the other.
"""

from __future__ import annotations

import re
from typing import Any

# Everything that defines an agent's tables. Columns by their position among live columns (a
# column dropped by a step leaves a hole in attnum that a table made in its final shape lacks);
# the server's pg_attver=... stamp in attoptions (written on every column it creates or alters)
# is left out.
FINGERPRINT = """
WITH rel AS (
  SELECT c.* FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND starts_with(c.relname, %(p)s)
)
SELECT 'rel ' || relname || ' ' || relkind::text || relpersistence::text
       || ' toast=' || (reltoastrelid <> 0) || ' options=' || coalesce(reloptions::text, '-')
       || ' acl=' || coalesce(relacl::text, '-') || ' rls=' || relrowsecurity
       || ' replident=' || relreplident::text
FROM rel
UNION ALL
SELECT 'col ' || r.relname || ' ' || row_number() OVER (PARTITION BY r.oid ORDER BY a.attnum)
       || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || ' collation=' || coalesce(co.collname, '-') || ' notnull=' || a.attnotnull
       || ' gen=' || a.attgenerated::text || ' ident=' || a.attidentity::text
       || ' storage=' || a.attstorage::text || ' stattarget=' || a.attstattarget
       || ' options=' || array_to_string(ARRAY(SELECT o FROM unnest(a.attoptions) o
                                              WHERE o NOT LIKE 'pg\\_attver=%%'), ',')
       || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = r.oid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE r.relkind = 'r'
UNION ALL
SELECT 'con ' || r.relname || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid)
       || ' deferrable=' || co.condeferrable || ' deferred=' || co.condeferred
       || ' valid=' || co.convalidated
FROM rel r JOIN pg_constraint co ON co.conrelid = r.oid
UNION ALL
SELECT 'idx ' || pg_get_indexdef(i.indexrelid) || ' clustered=' || i.indisclustered
FROM rel r JOIN pg_index i ON i.indrelid = r.oid
UNION ALL
SELECT 'trg ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid
WHERE NOT t.tgisinternal
UNION ALL
SELECT 'seq ' || r.relname || ' ' || format_type(s.seqtypid, NULL) || ' ' || s.seqstart || ' '
       || s.seqincrement || ' ' || s.seqmin || ' ' || s.seqmax || ' ' || s.seqcache || ' '
       || s.seqcycle || ' owned by '
       || coalesce((SELECT o.relname || '.' || a.attname || ' ' || dep.deptype::text FROM pg_depend dep
                    JOIN pg_class o ON o.oid = dep.refobjid
                    JOIN pg_attribute a ON a.attrelid = o.oid AND a.attnum = dep.refobjsubid
                    WHERE dep.objid = r.oid AND dep.classid = 'pg_class'::regclass
                      AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')), '-')
FROM rel r JOIN pg_sequence s ON s.seqrelid = r.oid
UNION ALL
SELECT 'comment ' || coalesce(
         (SELECT 'column ' || r.relname || '.' || a.attname FROM pg_attribute a
          WHERE d.classoid = 'pg_class'::regclass AND a.attrelid = r.oid AND a.attnum = d.objsubid
            AND d.objsubid > 0),
         (SELECT 'relation ' || r.relname WHERE d.classoid = 'pg_class'::regclass AND d.objsubid = 0),
         (SELECT 'constraint ' || co.conname FROM pg_constraint co
          WHERE d.classoid = 'pg_constraint'::regclass AND co.oid = d.objoid),
         (SELECT 'trigger ' || t.tgname FROM pg_trigger t
          WHERE d.classoid = 'pg_trigger'::regclass AND t.oid = d.objoid)) || ': ' || d.description
FROM rel r JOIN pg_description d
  ON (d.classoid = 'pg_class'::regclass AND d.objoid = r.oid)
  OR (d.classoid = 'pg_constraint'::regclass
      AND d.objoid IN (SELECT oid FROM pg_constraint WHERE conrelid = r.oid))
  OR (d.classoid = 'pg_trigger'::regclass
      AND d.objoid IN (SELECT oid FROM pg_trigger WHERE tgrelid = r.oid))
"""


async def fingerprint(conn: Any, agent: dict[str, Any]) -> list[str]:
    """The catalogue lines of `agent`'s tables (a dict-row connection)."""
    prefix, agent_id = agent["agent_prefix"], agent["id"]
    cur = await conn.execute(FINGERPRINT, {"p": prefix + "_"})
    lines = [next(iter(r.values())) for r in await cur.fetchall()]
    # the id appears as the customers.agent_id default and as the early-status trigger's argument
    same = re.compile(rf"(?<![\w.]){agent_id}(?=\)?::bigint|'\))")
    return sorted(same.sub("<id>", line.replace(prefix + "_", "<p>_")) for line in lines)


async def create_agent_by_steps(conn: Any, *, created_by: Any) -> dict[str, Any]:
    """An agent whose tables are made by replaying every per-agent step (the path before 0038)."""
    async with conn.transaction():
        cur = await conn.execute("SELECT nextval('agents_id_seq') AS id")
        agent_id = (await cur.fetchone())["id"]
        await conn.execute(
            "INSERT INTO agents (id, agent_prefix, created_by) VALUES (%s, %s, %s)",
            (agent_id, f"agt_s{agent_id}", created_by),
        )
        await conn.execute("SELECT wacrm_upgrade_agent(%s)", (agent_id,))
        cur = await conn.execute("SELECT * FROM agents WHERE id = %s", (agent_id,))
        return dict(await cur.fetchone())
