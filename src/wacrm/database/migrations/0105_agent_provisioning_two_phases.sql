-- Provisioning in two phases, so that several sessions can create agents at once
-- (docs/performance.md, "Provisioning 1,000 agents: two phases"; docs/schema.md, "New agents").
--
-- A new agent's tables are ~76 statements: 9 tables, ~45 B-trees (each built outside shared
-- buffers and fsync'ed), ~30 triggers. Only two of them touch a table every agent shares: the
-- foreign keys to `agents` (the seed's customers.agent_id) and to `workspace_labels`. Creating a
-- foreign key takes SHARE ROW EXCLUSIVE on the referenced table until commit, which conflicts with
-- itself and with the INSERT of an agents row: two provisioning transactions deadlocked, so all
-- provisioning was serialised, fsync waits included. Now the template keeps those foreign keys
-- last (`shared_statements`: how many of `statements` are at the end), and a new agent is made in
-- two phases: its own tables before its agents row exists, without any lock on a shared table
-- (`wacrm_create_agent_tables`), then, under the provisioning lock, its agents row and the
-- foreign keys to shared tables (`wacrm_attach_agent_tables`). The end state is the same
-- catalogue (the template's self-check compares it entry by entry, as before).

ALTER TABLE agent_table_templates ADD COLUMN IF NOT EXISTS shared_statements integer;
-- templates built before this migration have the shared foreign keys inline: built again
DELETE FROM agent_table_templates;

-- Foreign keys from agent `p`'s tables to tables that are not the agent's (and their comments),
-- without placeholders.
CREATE OR REPLACE FUNCTION wacrm_agent_shared_ddl(p text) RETURNS text[]
LANGUAGE sql STABLE SET search_path = public AS $$
  SELECT coalesce(array_agg(s ORDER BY o, n), '{}') FROM (
    SELECT 1 AS o, k.oid AS n,
           format('ALTER TABLE %I ADD CONSTRAINT %I %s', c.relname, k.conname, pg_get_constraintdef(k.oid)) AS s
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
    WHERE c.relnamespace = 'public'::regnamespace AND starts_with(c.relname, p || '_')
      AND k.contype = 'f' AND NOT starts_with(k.confrelid::regclass::text, p || '_')
    UNION ALL
    SELECT 2, k.oid, format('COMMENT ON CONSTRAINT %I ON %I IS %L', k.conname, c.relname, d.description)
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
    JOIN pg_description d ON d.classoid = 'pg_constraint'::regclass AND d.objoid = k.oid
    WHERE c.relnamespace = 'public'::regnamespace AND starts_with(c.relname, p || '_')
      AND k.contype = 'f' AND NOT starts_with(k.confrelid::regclass::text, p || '_')
  ) x
$$;

-- As in 0038, except that foreign keys to shared tables (and their comments) come last.
CREATE OR REPLACE FUNCTION wacrm_agent_table_ddl(p text, a_id bigint) RETURNS text[]
LANGUAGE plpgsql STABLE SET search_path = public AS $$
DECLARE
  out text[] := '{}';
  r record;
  x record;
  items text[];
  seqopts text := 'INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s %s';
BEGIN
  PERFORM wacrm_check_prefix(p);
  FOR r IN SELECT c.relname, s.* FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid
           WHERE c.relnamespace = 'public'::regnamespace AND starts_with(c.relname, p || '_')
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                             AND d.objid = c.oid AND d.deptype = 'i')
           ORDER BY c.oid LOOP
    out := out || format('CREATE SEQUENCE %I AS %s ' || seqopts, r.relname, format_type(r.seqtypid, NULL),
                         r.seqincrement, r.seqmin, r.seqmax, r.seqstart, r.seqcache,
                         CASE WHEN r.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END);
  END LOOP;

  FOR r IN SELECT c.oid, c.relname FROM pg_class c
           WHERE c.relnamespace = 'public'::regnamespace AND starts_with(c.relname, p || '_')
             AND c.relkind = 'r' ORDER BY c.oid LOOP
    SELECT array_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod))
             || CASE WHEN a.attcollation <> t.typcollation
                     THEN format(' COLLATE %I.%I', cn.nspname, co.collname) ELSE '' END
             || CASE WHEN a.attgenerated = 's'
                     THEN format(' GENERATED ALWAYS AS (%s) STORED', pg_get_expr(d.adbin, d.adrelid))
                     WHEN d.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid)
                     ELSE '' END
             || CASE WHEN a.attidentity IN ('a', 'd')
                     THEN format(' GENERATED %s AS IDENTITY (SEQUENCE NAME %I ' || seqopts || ')',
                                 CASE a.attidentity WHEN 'a' THEN 'ALWAYS' ELSE 'BY DEFAULT' END,
                                 sc.relname, sq.seqincrement, sq.seqmin,
                                 sq.seqmax, sq.seqstart, sq.seqcache,
                                 CASE WHEN sq.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END)
                     ELSE '' END
             || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
             ORDER BY a.attnum)
      INTO items
      FROM pg_attribute a
      JOIN pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_collation co ON co.oid = a.attcollation
      LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      LEFT JOIN pg_depend dep ON dep.refclassid = 'pg_class'::regclass AND dep.refobjid = a.attrelid
                             AND dep.refobjsubid = a.attnum AND dep.deptype = 'i'
                             AND dep.classid = 'pg_class'::regclass
      LEFT JOIN pg_class sc ON sc.oid = dep.objid
      LEFT JOIN pg_sequence sq ON sq.seqrelid = dep.objid
     WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT items || coalesce(array_agg(format('CONSTRAINT %I %s', c.conname, pg_get_constraintdef(c.oid))
                                       ORDER BY c.oid), '{}')
      INTO items
      FROM pg_constraint c
     WHERE c.conrelid = r.oid AND c.convalidated
       AND (c.contype IN ('p', 'u', 'x', 'c') OR (c.contype = 'f' AND c.confrelid <= c.conrelid AND NOT (c.contype = 'f' AND NOT starts_with(c.confrelid::regclass::text, p || '_'))));
    out := out || format('CREATE TABLE %I (%s)', r.relname, array_to_string(items, ', '));
  END LOOP;

  FOR r IN SELECT i.indexrelid FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
           WHERE c.relnamespace = 'public'::regnamespace AND starts_with(c.relname, p || '_')
             AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                             AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
           ORDER BY i.indexrelid LOOP
    out := out || pg_get_indexdef(r.indexrelid);
  END LOOP;

  FOR r IN SELECT c.relname, k.conname, k.oid FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
           WHERE c.relnamespace = 'public'::regnamespace AND starts_with(c.relname, p || '_')
             AND (NOT k.convalidated OR (k.contype = 'f' AND k.confrelid > k.conrelid))
             AND NOT (k.contype = 'f' AND NOT starts_with(k.confrelid::regclass::text, p || '_'))
           ORDER BY k.oid LOOP
    out := out || format('ALTER TABLE %I ADD CONSTRAINT %I %s', r.relname, r.conname, pg_get_constraintdef(r.oid));
  END LOOP;

  FOR r IN SELECT s.relname AS seq, t.relname AS tab, a.attname
           FROM pg_class s
           JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype = 'a'
                           AND d.refclassid = 'pg_class'::regclass
           JOIN pg_class t ON t.oid = d.refobjid
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
           WHERE s.relkind = 'S' AND s.relnamespace = 'public'::regnamespace
             AND starts_with(s.relname, p || '_')
           ORDER BY s.oid LOOP
    out := out || format('ALTER SEQUENCE %I OWNED BY %I.%I', r.seq, r.tab, r.attname);
  END LOOP;

  FOR r IN SELECT t.oid FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
           WHERE c.relnamespace = 'public'::regnamespace AND starts_with(c.relname, p || '_')
             AND NOT t.tgisinternal ORDER BY t.oid LOOP
    out := out || pg_get_triggerdef(r.oid);
  END LOOP;

  FOR x IN SELECT format('COMMENT ON %s %s IS %L',
                         CASE WHEN d.objsubid > 0 THEN 'COLUMN'
                              ELSE CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'i' THEN 'INDEX' ELSE 'TABLE' END END,
                         CASE WHEN d.objsubid > 0 THEN format('%I.%I', c.relname, a.attname)
                              ELSE quote_ident(c.relname) END,
                         d.description) AS stmt
           FROM pg_description d JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND c.oid = d.objoid
           LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid
           WHERE c.relnamespace = 'public'::regnamespace AND starts_with(c.relname, p || '_')
           UNION ALL
           SELECT format('COMMENT ON CONSTRAINT %I ON %I IS %L', k.conname, c.relname, d.description)
           FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
           JOIN pg_description d ON d.classoid = 'pg_constraint'::regclass AND d.objoid = k.oid
           WHERE c.relnamespace = 'public'::regnamespace AND starts_with(c.relname, p || '_')
             AND NOT (k.contype = 'f' AND NOT starts_with(k.confrelid::regclass::text, p || '_'))
           UNION ALL
           SELECT format('COMMENT ON TRIGGER %I ON %I IS %L', t.tgname, c.relname, d.description)
           FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
           JOIN pg_description d ON d.classoid = 'pg_trigger'::regclass AND d.objoid = t.oid
           WHERE c.relnamespace = 'public'::regnamespace AND starts_with(c.relname, p || '_') LOOP
    out := out || x.stmt;
  END LOOP;
  out := out || wacrm_agent_shared_ddl(p);

  RETURN wacrm_agent_ddl_placeholders(out, p, a_id);
END $$;

-- The statements as format() strings: %1$s the prefix, %2$s the agent id (any other % doubled).
CREATE OR REPLACE FUNCTION wacrm_agent_ddl_placeholders(stmts text[], p text, a_id bigint) RETURNS text[]
LANGUAGE plpgsql STABLE SET search_path = public AS $$
DECLARE
  out text[];
BEGIN
  -- `col IN ('a', 'b')` on a varchar column is stored as a cast of a varchar array to text[] and
  -- printed `(ARRAY['a'::character varying, ...])::text[]`, which parses back as an array of casts
  -- (same meaning, another tree, printed differently): `(ARRAY[...]::character varying[])::text[]`
  -- parses back to the stored tree.
  -- Placeholders: the prefix is [a-z0-9] only, so it is never quoted inside a name.
  SELECT array_agg(replace(replace(replace(wacrm_keep_bool_nesting(
           regexp_replace(s, '\(ARRAY\[([^][]*)::([a-z0-9_ ."]+)\]\)::', '(ARRAY[\1::\2]::\2[])::', 'g')),
           '%', '%%'), p, '%1$s'), a_id::text, '%2$s') ORDER BY n)
    INTO out FROM unnest(stmts) WITH ORDINALITY AS u(s, n);
  RETURN out;
END $$;


-- As in 0038, and the number of shared statements recorded.
CREATE OR REPLACE FUNCTION wacrm_build_agent_template() RETURNS agent_table_templates
LANGUAGE plpgsql SET search_path = public AS $$
DECLARE
  key text := wacrm_agent_steps_key();
  stepped_prefix text := 'agt_tpl' || substr(md5(random()::text), 1, 20);
  copied_prefix text := 'agt_tpl' || substr(md5(random()::text), 1, 20);
  -- Ids of int4 size like real ones: `62::bigint` is stored as a cast of an int4 constant, a
  -- larger number as a bigint constant, and the two print differently. Random, so that the
  -- number is found nowhere else in the statements.
  stepped_id bigint;
  copied_id bigint;
  result jsonb;
  stmts text[];
  shared integer;
  diff text;
  s text;
  row agent_table_templates;
BEGIN
  LOOP
    stepped_id := 1000000000 + floor(random() * 1000000000)::bigint;
    copied_id := stepped_id + 1;
    EXIT WHEN NOT EXISTS (SELECT 1 FROM agents WHERE id IN (stepped_id, copied_id));
  END LOOP;
  BEGIN
    INSERT INTO agents (id, agent_prefix, created_by)
    VALUES (stepped_id, stepped_prefix, '00000000-0000-0000-0000-000000000000'),
           (copied_id, copied_prefix, '00000000-0000-0000-0000-000000000000');
    PERFORM wacrm_upgrade_agent(stepped_id);
    stmts := wacrm_agent_table_ddl(stepped_prefix, stepped_id);
    shared := cardinality(wacrm_agent_shared_ddl(stepped_prefix));
    FOREACH s IN ARRAY stmts LOOP
      EXECUTE format(s, copied_prefix, copied_id);
    END LOOP;
    SELECT string_agg(coalesce('- ' || a.l, '') || coalesce('+ ' || b.l, ''), E'\n')
      INTO diff
      FROM (SELECT l, row_number() OVER (PARTITION BY l) AS k
            FROM wacrm_agent_catalogue(stepped_prefix, stepped_id) l) a
      FULL JOIN (SELECT l, row_number() OVER (PARTITION BY l) AS k
                 FROM wacrm_agent_catalogue(copied_prefix, copied_id) l) b USING (l, k)
     WHERE a.l IS NULL OR b.l IS NULL;
    result := jsonb_build_object(
      'steps', (SELECT jsonb_agg(version ORDER BY version) FROM agent_schema_applied
                WHERE agent_id = stepped_id),
      'statements', CASE WHEN diff IS NULL THEN to_jsonb(stmts) END,
      'shared', shared,
      'reason', CASE WHEN diff IS NOT NULL
                     THEN 'tables made from the template differ from tables made by the steps:'
                          || E'\n' || left(diff, 4000) END);
    RAISE EXCEPTION 'agent template built' USING ERRCODE = 'WT001', DETAIL = result::text;
  EXCEPTION WHEN SQLSTATE 'WT001' THEN  -- undoes the scratch agents, keeps the result
    GET STACKED DIAGNOSTICS s = PG_EXCEPTION_DETAIL;
    result := s::jsonb;
  END;
  IF result->>'reason' IS NOT NULL THEN
    RAISE WARNING 'new agents replay the per-agent steps: %', result->>'reason';
  END IF;
  INSERT INTO agent_table_templates (steps_key, steps, statements, unusable_reason, shared_statements)
  VALUES (key, ARRAY(SELECT jsonb_array_elements_text(result->'steps')::int),
          CASE WHEN jsonb_typeof(result->'statements') = 'array'
               THEN ARRAY(SELECT jsonb_array_elements_text(result->'statements')) END,
          result->>'reason',
          CASE WHEN jsonb_typeof(result->'statements') = 'array' THEN (result->>'shared')::int END)
  ON CONFLICT (steps_key) DO NOTHING;
  SELECT * INTO row FROM agent_table_templates WHERE steps_key = key;
  RETURN row;
END $$;

-- Phase 1 of a new agent (no agents row yet, no step applied, no tables): its tables from the
-- template `key`, except the foreign keys to shared tables. Takes no lock on a shared table.
CREATE OR REPLACE FUNCTION wacrm_create_agent_tables(p text, a_id bigint, key text) RETURNS void
LANGUAGE plpgsql SET search_path = public AS $$
DECLARE
  tpl agent_table_templates;
BEGIN
  PERFORM wacrm_check_prefix(p);
  SELECT * INTO tpl FROM agent_table_templates WHERE steps_key = key;
  IF tpl.statements IS NULL OR tpl.shared_statements IS NULL THEN
    RAISE EXCEPTION 'no usable agent table template %', key;
  END IF;
  FOR i IN 1 .. cardinality(tpl.statements) - tpl.shared_statements LOOP
    EXECUTE format(tpl.statements[i], p, a_id);
  END LOOP;
END $$;

-- Phase 2 (its agents row inserted at the template's newest step, under the provisioning lock):
-- the foreign keys to shared tables and the steps recorded; the step reached.
CREATE OR REPLACE FUNCTION wacrm_attach_agent_tables(a_id bigint, key text) RETURNS integer
LANGUAGE plpgsql SET search_path = public AS $$
DECLARE
  tpl agent_table_templates;
  p text;
  n integer;
BEGIN
  SELECT agent_prefix INTO p FROM agents WHERE id = a_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no agent with id %', a_id USING ERRCODE = 'P0002';
  END IF;
  SELECT * INTO tpl FROM agent_table_templates WHERE steps_key = key;
  IF tpl.statements IS NULL OR tpl.shared_statements IS NULL THEN
    RAISE EXCEPTION 'no usable agent table template %', key;
  END IF;
  n := cardinality(tpl.statements);
  FOR i IN n - tpl.shared_statements + 1 .. n LOOP
    EXECUTE format(tpl.statements[i], p, a_id);
  END LOOP;
  INSERT INTO agent_schema_applied (agent_id, version) SELECT a_id, unnest(tpl.steps);
  RETURN (SELECT max(x) FROM unnest(tpl.steps) x);
END $$;
