-- New agents get their tables in their final shape (docs/schema.md, "Per-agent tables";
-- docs/performance.md, "Many agents"). Replaying the steps runs step 2's ALTERs, and on
-- PostgreSQL 15.20 every ALTER that changes a type or adds a column with a DEFAULT reads every
-- index expression of the database (~63 ms per statement at 5,000 agents), so provisioning cost
-- grew with the agents already there.
--
-- The steps stay the one definition: once per set of steps (and step bodies, and server version)
-- a scratch agent is built by replaying them inside a subtransaction, its catalogue is turned into
-- CREATE statements (columns in their final order, defaults, constraints, indexes, triggers,
-- sequences and their owners, comments), a second scratch agent is made from those statements,
-- the two catalogues are compared entry by entry (wacrm_agent_catalogue), and the subtransaction
-- is rolled back. The statements are kept in agent_table_templates; when the two catalogues
-- differ (a step uses something the generator does not reproduce), the row records why and new
-- agents replay the steps as before. A new agent made from the template is recorded with every
-- step of the template, so `wacrm migrate` applies later steps to it as to any other agent.

CREATE TABLE IF NOT EXISTS agent_table_templates (
  steps_key text PRIMARY KEY,           -- wacrm_agent_steps_key() when built
  steps integer[] NOT NULL,             -- the per-agent steps the statements stand for
  statements text[],                    -- format() strings: %1$s the prefix, %2$s the agent id
  unusable_reason text,                 -- set (and statements NULL) when the self-check failed
  built_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((statements IS NULL) <> (unusable_reason IS NULL))
);

-- What the template stands for: the registered steps, their functions' definitions, the server.
CREATE OR REPLACE FUNCTION wacrm_agent_steps_key() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT md5(current_setting('server_version_num') || string_agg(
           s.version || ':' || s.function_name || ':' ||
           coalesce((SELECT md5(pg_get_functiondef(p.oid)) FROM pg_proc p
                     WHERE p.oid = to_regprocedure(s.function_name || '(text,bigint)')), '-'),
           ',' ORDER BY s.version))
  FROM agent_schema_steps s
$$;

-- Everything that defines an agent's tables, one line per entry, with the prefix written <p> and
-- the agent id <id>. The server's own stamp in attoptions (pg_attver=..., which this server writes
-- on every column it creates or alters) is left out. Column positions count live columns only (a column dropped by a step leaves
-- a hole in attnum that a table made in its final shape does not have).
CREATE OR REPLACE FUNCTION wacrm_agent_catalogue(p text, a_id bigint) RETURNS SETOF text
LANGUAGE sql STABLE SET search_path = public AS $$
  WITH rel AS (
    SELECT c.* FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND starts_with(c.relname, p || '_')
  ), line AS (
    SELECT 'rel ' || relname || ' ' || relkind::text || relpersistence::text
           || ' toast=' || (reltoastrelid <> 0) || ' opts=' || coalesce(reloptions::text, '')
           || ' acl=' || coalesce(relacl::text, '') || ' rls=' || relrowsecurity || relforcerowsecurity
           || ' replident=' || relreplident::text || ' am=' || coalesce(relam::regclass::text, relam::text)
           || ' space=' || reltablespace || ' part=' || relispartition
           || ' inherits=' || (SELECT count(*) FROM pg_inherits WHERE inhrelid = rel.oid)
           || ' stats=' || (SELECT count(*) FROM pg_statistic_ext WHERE stxrelid = rel.oid)
           || ' rules=' || (SELECT count(*) FROM pg_rewrite WHERE ev_class = rel.oid)
           || ' policies=' || (SELECT count(*) FROM pg_policy WHERE polrelid = rel.oid) AS l
    FROM rel
    UNION ALL
    SELECT 'col ' || r.relname || ' '
           || row_number() OVER (PARTITION BY r.oid ORDER BY a.attnum) || ' ' || a.attname || ' '
           || format_type(a.atttypid, a.atttypmod) || ' collate=' || coalesce(co.collname, '')
           || ' notnull=' || a.attnotnull || ' gen=' || a.attgenerated::text
           || ' ident=' || a.attidentity::text || ' storage=' || a.attstorage::text
           || ' compression=' || a.attcompression::text || ' stattarget=' || a.attstattarget
           || ' opts=' || array_to_string(ARRAY(SELECT o FROM unnest(a.attoptions) o
                                                 WHERE o NOT LIKE 'pg\_attver=%'), ',') || ' acl=' || coalesce(a.attacl::text, '')
           || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
    FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = r.oid AND d.adnum = a.attnum
    LEFT JOIN pg_collation co ON co.oid = a.attcollation
    WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f')
    UNION ALL
    SELECT 'con ' || r.relname || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
           || ' deferrable=' || c.condeferrable || ' deferred=' || c.condeferred
           || ' valid=' || c.convalidated || ' local=' || c.conislocal || ' noinherit=' || c.connoinherit
    FROM rel r JOIN pg_constraint c ON c.conrelid = r.oid
    UNION ALL
    SELECT 'idx ' || pg_get_indexdef(i.indexrelid) || ' clustered=' || i.indisclustered
           || ' replident=' || i.indisreplident || ' valid=' || i.indisvalid
    FROM rel r JOIN pg_index i ON i.indrelid = r.oid
    UNION ALL
    SELECT 'trg ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
    FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid WHERE NOT t.tgisinternal
    UNION ALL
    SELECT 'seq ' || r.relname || ' ' || format_type(s.seqtypid, NULL) || ' ' || s.seqstart || ' '
           || s.seqincrement || ' ' || s.seqmin || ' ' || s.seqmax || ' ' || s.seqcache || ' '
           || s.seqcycle || ' owned by ' || coalesce(
             (SELECT o.relname || '.' || a.attname || ' ' || dep.deptype::text FROM pg_depend dep
              JOIN pg_class o ON o.oid = dep.refobjid
              JOIN pg_attribute a ON a.attrelid = o.oid AND a.attnum = dep.refobjsubid
              WHERE dep.classid = 'pg_class'::regclass AND dep.objid = r.oid
                AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')), '-')
    FROM rel r JOIN pg_sequence s ON s.seqrelid = r.oid
    UNION ALL  -- comments on the relations, their columns, constraints and triggers
    SELECT 'cmt ' || r.relname || ' ' || coalesce(
             (SELECT 'col ' || attname FROM pg_attribute WHERE attrelid = r.oid AND attnum = d.objsubid AND d.objsubid > 0),
             'rel') || ' ' || d.description
    FROM rel r JOIN pg_description d ON d.classoid = 'pg_class'::regclass AND d.objoid = r.oid
    UNION ALL
    SELECT 'cmt ' || r.relname || ' con ' || c.conname || ' ' || d.description
    FROM rel r JOIN pg_constraint c ON c.conrelid = r.oid
    JOIN pg_description d ON d.classoid = 'pg_constraint'::regclass AND d.objoid = c.oid
    UNION ALL
    SELECT 'cmt ' || r.relname || ' trg ' || t.tgname || ' ' || d.description
    FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid
    JOIN pg_description d ON d.classoid = 'pg_trigger'::regclass AND d.objoid = t.oid
  )
  SELECT regexp_replace(replace(l, p || '_', '<p>_'), '(^|[^0-9])' || a_id || '($|[^0-9])', '\1<id>\2', 'g')
  FROM line ORDER BY 1
$$;

-- `(a OR b) OR c` is stored as two nested ORs (a row comparison `(x, y, z) IS DISTINCT FROM (...)`
-- is stored so) and printed `((a OR b) OR c)`, which parses back as one OR of three. A group that
-- is the first operand of the same operator gets `::boolean` (no cast is stored: same type), which
-- keeps the nesting. Likewise for AND. Quoted text is skipped.
CREATE OR REPLACE FUNCTION wacrm_keep_bool_nesting(s text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  n integer := length(s);
  k integer := 1;
  ch text;
  quote text := NULL;
  starts integer[] := '{}';
  ops text[] := '{}';
  cut integer[] := '{}';
  i integer;
  op text;
  out text := '';
  last integer := 0;
BEGIN
  WHILE k <= n LOOP
    ch := substr(s, k, 1);
    IF quote IS NOT NULL THEN
      IF ch = quote THEN quote := NULL; END IF;  -- a doubled quote reopens on the next character
    ELSIF ch IN ('''', '"') THEN
      quote := ch;
    ELSIF ch = '(' THEN
      starts := starts || k;
      ops := ops || ''::text;
    ELSIF ch = ')' AND cardinality(starts) > 0 THEN
      i := starts[cardinality(starts)];
      op := ops[cardinality(ops)];
      starts := trim_array(starts, 1);
      ops := trim_array(ops, 1);
      IF op <> '' AND i > 1 AND substr(s, i - 1, 1) = '('
         AND substr(s, k + 1, length(op) + 2) = ' ' || op || ' ' THEN
        cut := cut || k;
      END IF;
    ELSIF cardinality(ops) > 0 AND ops[cardinality(ops)] = '' THEN
      IF substr(s, k, 4) = ' OR ' THEN
        ops[cardinality(ops)] := 'OR';
      ELSIF substr(s, k, 5) = ' AND ' THEN
        ops[cardinality(ops)] := 'AND';
      END IF;
    END IF;
    k := k + 1;
  END LOOP;
  FOREACH i IN ARRAY cut LOOP
    out := out || substr(s, last + 1, i - last) || '::boolean';
    last := i;
  END LOOP;
  RETURN out || substr(s, last + 1);
END $$;

-- CREATE statements for agent `p`'s tables as the catalogue has them, as format() strings with
-- %1$s for the prefix and %2$s for the agent id (any other % doubled). Order: sequences, tables
-- in creation order (columns in their order, checks, keys, foreign keys to tables that exist by
-- then: CREATE TABLE does not check those against the empty table), indexes, the other foreign
-- keys and NOT VALID constraints (ALTER TABLE ... ADD CONSTRAINT, which changes no column:
-- customers and messages refer to each other), sequence owners, triggers, comments.
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
       AND (c.contype IN ('p', 'u', 'x', 'c') OR (c.contype = 'f' AND c.confrelid <= c.conrelid));
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
           UNION ALL
           SELECT format('COMMENT ON TRIGGER %I ON %I IS %L', t.tgname, c.relname, d.description)
           FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
           JOIN pg_description d ON d.classoid = 'pg_trigger'::regclass AND d.objoid = t.oid
           WHERE c.relnamespace = 'public'::regnamespace AND starts_with(c.relname, p || '_') LOOP
    out := out || x.stmt;
  END LOOP;

  -- `col IN ('a', 'b')` on a varchar column is stored as a cast of a varchar array to text[] and
  -- printed `(ARRAY['a'::character varying, ...])::text[]`, which parses back as an array of casts
  -- (same meaning, another tree, printed differently): `(ARRAY[...]::character varying[])::text[]`
  -- parses back to the stored tree.
  -- Placeholders: the prefix is [a-z0-9] only, so it is never quoted inside a name.
  SELECT array_agg(replace(replace(replace(wacrm_keep_bool_nesting(
           regexp_replace(s, '\(ARRAY\[([^][]*)::([a-z0-9_ ."]+)\]\)::', '(ARRAY[\1::\2]::\2[])::', 'g')),
           '%', '%%'), p, '%1$s'), a_id::text, '%2$s') ORDER BY n)
    INTO out FROM unnest(out) WITH ORDINALITY AS u(s, n);
  RETURN out;
END $$;

-- Build the template for the current steps (see the top of this file); the row stored.
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
  INSERT INTO agent_table_templates (steps_key, steps, statements, unusable_reason)
  VALUES (key, ARRAY(SELECT jsonb_array_elements_text(result->'steps')::int),
          CASE WHEN jsonb_typeof(result->'statements') = 'array'
               THEN ARRAY(SELECT jsonb_array_elements_text(result->'statements')) END,
          result->>'reason')
  ON CONFLICT (steps_key) DO NOTHING;
  SELECT * INTO row FROM agent_table_templates WHERE steps_key = key;
  RETURN row;
END $$;

-- The template for the current steps, built if there is none yet.
CREATE OR REPLACE FUNCTION wacrm_agent_template() RETURNS agent_table_templates
LANGUAGE plpgsql AS $$
DECLARE
  row agent_table_templates;
BEGIN
  SELECT * INTO row FROM agent_table_templates WHERE steps_key = wacrm_agent_steps_key();
  IF NOT FOUND THEN
    row := wacrm_build_agent_template();
  END IF;
  RETURN row;
END $$;

-- Create a new agent's tables (an agent with no step applied and no tables) in their final shape
-- from the template, or by the steps when the template is unusable; the step reached. An agent
-- whose tables exist is upgraded by the steps (wacrm_upgrade_agent).
CREATE OR REPLACE FUNCTION wacrm_provision_agent(a_id bigint) RETURNS integer
LANGUAGE plpgsql SET search_path = public AS $$
DECLARE
  p text;
  v integer;
  tpl agent_table_templates;
  s text;
BEGIN
  SELECT agent_prefix, schema_version INTO p, v FROM agents WHERE id = a_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no agent with id %', a_id USING ERRCODE = 'P0002';
  END IF;
  PERFORM wacrm_check_prefix(p);
  IF EXISTS (SELECT 1 FROM agent_schema_applied WHERE agent_id = a_id)
     OR to_regclass(format('public.%I', p || '_customers')) IS NOT NULL THEN
    RETURN wacrm_upgrade_agent(a_id);  -- tables exist (takeover, adoption): the steps
  END IF;
  tpl := wacrm_agent_template();
  IF tpl.statements IS NULL THEN  -- no usable template: replay every step
    UPDATE agents SET schema_version = 0 WHERE id = a_id AND schema_version <> 0;
    RETURN wacrm_upgrade_agent(a_id);
  END IF;
  FOREACH s IN ARRAY tpl.statements LOOP
    EXECUTE format(s, p, a_id);
  END LOOP;
  INSERT INTO agent_schema_applied (agent_id, version) SELECT a_id, unnest(tpl.steps);
  -- An UPDATE of an agents row runs the row triggers of every agent's foreign key to agents
  -- (~20 ms at 2,000 agents): callers insert the row with the template's newest step.
  v := (SELECT max(x) FROM unnest(tpl.steps) x);
  UPDATE agents SET schema_version = v WHERE id = a_id AND schema_version IS DISTINCT FROM v;
  RETURN v;
END $$;
