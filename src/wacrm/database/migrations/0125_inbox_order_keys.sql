-- The inbox's order on labels and mentions (docs/schema.md, "Team inbox: the inbox order on labels
-- and mentions"; docs/performance.md, "Team inbox filters"). A label or mentions filter read the
-- label's (or the notes') conversations one by one: no index held a label together with the
-- inbox's order. Each conversation-label row now carries a copy of its conversation's status,
-- assignee and last activity, and a new table does the same for the members each conversation's
-- notes mention; indexes (label or member, [status,] last activity, id) let a filtered page walk
-- the inbox's order and stop at the page's end.
--
-- Kept in the transaction that changes them: an update of customers copies the changed keys to
-- their rows (a statement trigger, one copy per statement); a label row
-- takes its keys from the customer when inserted, after a FOR SHARE lock on the customer (a
-- concurrent change of the customer finishes first, and one that starts later waits and then
-- copies its keys onto the new row); a note's change recomputes its customer's mentions after a
-- FOR NO KEY UPDATE lock on the customer (note writers of one customer take turns, so neither
-- misses the other's mentions).
--
-- Lock order: a customer's update locks the customer, then its label rows (to copy the keys). A
-- writer that deletes label rows must lock their customers first, or the two may deadlock:
-- state.update locks the customer FOR UPDATE, a customer's deletion deletes it first, and a
-- workspace label's deletion locks its conversations' customers (the trigger below) before its
-- rows cascade.

-- Customers whose status, assignee or last activity changed: their keys copied to their label and
-- mention rows. One statement trigger (transition tables) per UPDATE statement, so an ingest batch
-- of 50 customers runs one copy statement, not 50.
CREATE OR REPLACE FUNCTION wacrm_inbox_keys_customers() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  p text := left(TG_TABLE_NAME, -length('_customers'));
BEGIN
  -- dynamic, so planned for each statement's row counts (a static query's plan is cached from
  -- the session's first call: a nested loop of old and new rows, fatal for a bulk update)
  EXECUTE format($q$
    WITH c AS (
      SELECT n.id, coalesce(n.conversation_status, 'open') AS status, n.assignee_id,
             n.last_message_at
      FROM new_rows n JOIN old_rows o ON o.id = n.id
      WHERE (n.last_message_at, coalesce(n.conversation_status, 'open'), n.assignee_id)
            IS DISTINCT FROM (o.last_message_at, coalesce(o.conversation_status, 'open'), o.assignee_id)
    ), l AS (
      UPDATE %1$I k SET status = c.status, assignee_id = c.assignee_id,
        last_message_at = c.last_message_at
      FROM c WHERE k.customer_id = c.id
    )
    UPDATE %2$I k SET status = c.status, assignee_id = c.assignee_id,
      last_message_at = c.last_message_at
    FROM c WHERE k.customer_id = c.id
  $q$, p || '_conversation_labels', p || '_conversation_mentions');
  RETURN NULL;
END $$;

-- A label put on a conversation (or moved to another): the conversation's keys, read under a
-- FOR SHARE lock of the customer row.
CREATE OR REPLACE FUNCTION wacrm_inbox_keys_label() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  customers text := left(TG_TABLE_NAME, -length('_conversation_labels')) || '_customers';
BEGIN
  EXECUTE format('SELECT coalesce(conversation_status, ''open''), assignee_id, last_message_at'
                 ' FROM %I WHERE id = $1 FOR SHARE', customers)
    INTO NEW.status, NEW.assignee_id, NEW.last_message_at USING NEW.customer_id;
  NEW.status := coalesce(NEW.status, 'open');  -- no such customer: its foreign key says so
  RETURN NEW;
END $$;

-- A label row moved to another label or conversation (no code does it; kept exact anyway): its
-- count leaves the old key and joins the new one. Replaces step 115's statement trigger on
-- UPDATE, which would run on every copy of the keys above.
CREATE OR REPLACE FUNCTION wacrm_counts_label_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO conversation_counts (agent_id, label_id, assignee_id, status, n)
  VALUES (TG_ARGV[0]::bigint, OLD.label_id, OLD.assignee_id, OLD.status, -1),
         (TG_ARGV[0]::bigint, NEW.label_id, NEW.assignee_id, NEW.status, 1);
  RETURN NULL;
END $$;

-- Notes written, edited or deleted: their customers' mentions recomputed from the notes. First
-- the customers are locked (one statement), then the notes are read (a later statement: a new
-- snapshot, which sees a note committed by the writer this one waited for).
CREATE OR REPLACE FUNCTION wacrm_inbox_mentions() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  p text := left(TG_TABLE_NAME, -length('_notes'));
  ids integer[];
BEGIN
  EXECUTE format($q$
    SELECT array_agg(id) FROM (
      SELECT c.id FROM %I c WHERE c.id IN (SELECT customer_id FROM %s)
      ORDER BY c.id FOR NO KEY UPDATE) x
  $q$, p || '_customers',
    CASE TG_OP WHEN 'INSERT' THEN 'new_rows' WHEN 'DELETE' THEN 'old_rows'
      ELSE '(SELECT customer_id FROM new_rows UNION SELECT customer_id FROM old_rows) r' END)
  INTO ids;
  IF ids IS NULL THEN
    RETURN NULL;  -- the customers are gone (a customer's deletion cascading to its notes)
  END IF;
  EXECUTE format($q$
    WITH want AS (
      SELECT DISTINCT n.customer_id, u.user_id FROM %1$I n CROSS JOIN unnest(n.mentions) u(user_id)
      WHERE n.customer_id = ANY ($1)
    ), gone AS (
      DELETE FROM %2$I m WHERE m.customer_id = ANY ($1) AND NOT EXISTS (
        SELECT FROM want w WHERE w.customer_id = m.customer_id AND w.user_id = m.user_id)
    )
    INSERT INTO %2$I (user_id, customer_id, status, assignee_id, last_message_at)
    SELECT w.user_id, w.customer_id, coalesce(c.conversation_status, 'open'), c.assignee_id,
           c.last_message_at
    FROM want w JOIN %3$I c ON c.id = w.customer_id
    ON CONFLICT (user_id, customer_id) DO NOTHING
  $q$, p || '_notes', p || '_conversation_mentions', p || '_customers')
  USING ids;
  RETURN NULL;
END $$;

-- A workspace label about to be deleted: its conversations' customers locked FOR SHARE (in id
-- order) before its label rows are deleted by the cascade.
CREATE OR REPLACE FUNCTION wacrm_label_delete_lock() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  p text := (SELECT agent_prefix FROM agents WHERE id = OLD.agent_id);
BEGIN
  IF p IS NOT NULL AND to_regclass(p || '_conversation_mentions') IS NOT NULL THEN
    EXECUTE format('SELECT FROM %I c WHERE c.id IN (SELECT customer_id FROM %I WHERE label_id = $1)'
                   ' ORDER BY c.id FOR SHARE', p || '_customers', p || '_conversation_labels')
      USING OLD.id;
  END IF;
  RETURN OLD;
END $$;

CREATE TRIGGER lock_conversations BEFORE DELETE ON workspace_labels FOR EACH ROW
  EXECUTE FUNCTION wacrm_label_delete_lock();

-- An agent's kept keys recomputed from its tables (step 125 on existing rows; a restore, which
-- loads the tables with their triggers off).
CREATE OR REPLACE FUNCTION wacrm_refill_inbox_keys(p text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($q$
    UPDATE %1$I l SET status = coalesce(c.conversation_status, 'open'), assignee_id = c.assignee_id,
      last_message_at = c.last_message_at
    FROM %2$I c WHERE c.id = l.customer_id
      AND (l.status, l.assignee_id, l.last_message_at) IS DISTINCT FROM
          (coalesce(c.conversation_status, 'open'), c.assignee_id, c.last_message_at)
  $q$, p || '_conversation_labels', p || '_customers');
  EXECUTE format($q$
    DELETE FROM %1$I;
    INSERT INTO %1$I (user_id, customer_id, status, assignee_id, last_message_at)
    SELECT DISTINCT u.user_id, n.customer_id, coalesce(c.conversation_status, 'open'),
           c.assignee_id, c.last_message_at
    FROM %2$I n CROSS JOIN unnest(n.mentions) u(user_id) JOIN %3$I c ON c.id = n.customer_id
  $q$, p || '_conversation_mentions', p || '_notes', p || '_customers');
END $$;

-- A restore (and step 115) recount the kept counts; the kept keys are refilled with them.
CREATE OR REPLACE FUNCTION wacrm_recount_conversations(p text, a_id bigint) RETURNS void
LANGUAGE sql AS $$
  DELETE FROM conversation_counts WHERE agent_id = a_id;
  INSERT INTO conversation_counts (agent_id, label_id, assignee_id, status, n)
  SELECT a_id, x.label_id, x.assignee_id, x.status, x.n FROM wacrm_conversation_counts_of(p) x;
  SELECT wacrm_refill_inbox_keys(p)
  WHERE to_regclass(p || '_conversation_mentions') IS NOT NULL;
$$;

CREATE OR REPLACE FUNCTION wacrm_agent_step_0125(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($ddl$
    -- nullable without a default (the rule of per-agent steps): the triggers always write it
    ALTER TABLE %2$I ADD COLUMN status text, ADD COLUMN assignee_id uuid,
      ADD COLUMN last_message_at timestamptz;
    CREATE INDEX %4$I ON %2$I (label_id, status, last_message_at DESC NULLS LAST, customer_id DESC);
    CREATE INDEX %5$I ON %2$I (label_id, last_message_at DESC NULLS LAST, customer_id DESC);
    CREATE TABLE %3$I (
      user_id uuid NOT NULL,
      customer_id integer NOT NULL,
      status text NOT NULL DEFAULT 'open',
      assignee_id uuid,
      last_message_at timestamptz,
      CONSTRAINT %6$I PRIMARY KEY (user_id, customer_id),
      CONSTRAINT %7$I FOREIGN KEY (customer_id) REFERENCES %1$I(id) ON DELETE CASCADE
    );
    CREATE INDEX %8$I ON %3$I (user_id, status, last_message_at DESC NULLS LAST, customer_id DESC);
    CREATE INDEX %9$I ON %3$I (user_id, last_message_at DESC NULLS LAST, customer_id DESC);
    CREATE INDEX %10$I ON %3$I (customer_id);
    CREATE TRIGGER inbox_keys AFTER UPDATE ON %1$I REFERENCING OLD TABLE AS old_rows
      NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION wacrm_inbox_keys_customers();
    CREATE TRIGGER inbox_keys BEFORE INSERT OR UPDATE OF customer_id ON %2$I FOR EACH ROW
      EXECUTE FUNCTION wacrm_inbox_keys_label();
    DROP TRIGGER counts_update ON %2$I;
    CREATE TRIGGER counts_update AFTER UPDATE OF label_id, customer_id ON %2$I FOR EACH ROW
      WHEN (OLD.label_id IS DISTINCT FROM NEW.label_id OR OLD.customer_id IS DISTINCT FROM NEW.customer_id)
      EXECUTE FUNCTION wacrm_counts_label_moved(%12$s);
    CREATE TRIGGER inbox_mentions_insert AFTER INSERT ON %11$I REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION wacrm_inbox_mentions();
    CREATE TRIGGER inbox_mentions_delete AFTER DELETE ON %11$I REFERENCING OLD TABLE AS old_rows
      FOR EACH STATEMENT EXECUTE FUNCTION wacrm_inbox_mentions();
    CREATE TRIGGER inbox_mentions_update AFTER UPDATE ON %11$I REFERENCING OLD TABLE AS old_rows
      NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION wacrm_inbox_mentions();
  $ddl$, p || '_customers', p || '_conversation_labels', p || '_conversation_mentions',
     p || '_conversation_labels_status_idx', p || '_conversation_labels_activity_idx',
     p || '_mentions_pkey', p || '_mentions_customer_fkey',
     p || '_mentions_status_idx', p || '_mentions_activity_idx',
     p || '_mentions_customer_idx', p || '_notes', a_id);
  -- the rows already there (the triggers above hold the tables against writes until this commits)
  PERFORM wacrm_refill_inbox_keys(p);
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (125, 'wacrm_agent_step_0125', 'team inbox: the inbox order on labels and mentions')
ON CONFLICT (version) DO NOTHING;
