-- Team inbox (docs/schema.md, "Team inbox"): workspace members, conversation status, assignment,
-- labels, events, private notes, canned responses, snoozes.
--
-- Workspace-level state is in core tables keyed by agent id; a conversation's state is on the
-- agent's customers row (the inbox filters on it, through its indexes), and its history and
-- notes are per-agent tables (deleted with the customer).

CREATE TABLE agent_members (
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role text NOT NULL DEFAULT 'member' CHECK (role = 'member'),
  added_by uuid REFERENCES users(id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, user_id)
);
CREATE INDEX agent_members_user_idx ON agent_members (user_id);

-- auto-assignment: off unless true; the round robin's last pick
ALTER TABLE agents ADD COLUMN auto_assign boolean, ADD COLUMN auto_assign_last uuid;
-- a user takes auto-assigned conversations unless false
ALTER TABLE users ADD COLUMN available boolean;

CREATE TABLE workspace_labels (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  name text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
  color text NOT NULL CHECK (color ~ '^#[0-9a-f]{6}$'),
  description text CHECK (length(description) <= 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (agent_id, name)
);

CREATE TABLE canned_responses (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  shortcut text NOT NULL CHECK (shortcut ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
  body text NOT NULL CHECK (length(body) BETWEEN 1 AND 4096),
  created_by uuid REFERENCES users(id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (agent_id, shortcut)
);

-- snoozed conversations by wake-up time, so the periodic job reads only the due ones of all agents
CREATE TABLE conversation_snoozes (
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  customer_id bigint NOT NULL,
  snoozed_until timestamptz NOT NULL,
  PRIMARY KEY (agent_id, customer_id)
);
CREATE INDEX conversation_snoozes_due_idx ON conversation_snoozes (snoozed_until);

-- The members of a workspace: its owner (agents.user_id) and the agent_members rows.
CREATE OR REPLACE FUNCTION wacrm_workspace_members(a_id bigint)
RETURNS TABLE (user_id uuid, role text) LANGUAGE sql STABLE AS $$
  SELECT a.user_id, 'owner' FROM agents a WHERE a.id = a_id AND a.user_id IS NOT NULL
  UNION ALL
  SELECT m.user_id, m.role FROM agent_members m JOIN agents a ON a.id = m.agent_id
  WHERE m.agent_id = a_id AND m.user_id IS DISTINCT FROM a.user_id
$$;

-- Round robin: the next active, available member after the last pick (by user id, wrapping);
-- NULL when auto-assignment is off or nobody is available. Concurrent picks of one workspace
-- are serialised on its agents row (FOR NO KEY UPDATE: foreign-key checks are not blocked).
CREATE OR REPLACE FUNCTION wacrm_next_assignee(a_id bigint) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
  last_pick uuid;
  chosen uuid;
BEGIN
  IF NOT coalesce((SELECT auto_assign FROM agents WHERE id = a_id), false) THEN
    RETURN NULL;
  END IF;
  SELECT auto_assign_last INTO last_pick FROM agents WHERE id = a_id FOR NO KEY UPDATE;
  SELECT m.user_id INTO chosen
    FROM wacrm_workspace_members(a_id) m JOIN users u ON u.id = m.user_id
   WHERE u.is_active AND coalesce(u.available, true)
   ORDER BY (last_pick IS NOT NULL AND m.user_id <= last_pick), m.user_id
   LIMIT 1;
  IF chosen IS NOT NULL THEN
    UPDATE agents SET auto_assign_last = chosen WHERE id = a_id;
  END IF;
  RETURN chosen;
END $$;

-- A new inbound message reopens a resolved or snoozed conversation, and a conversation that
-- opens (its first inbound message, or a reopening) without an assignee gets one by round robin.
-- The prefix comes from the table's name (<prefix>_customers); the events are by nobody (NULL).
CREATE OR REPLACE FUNCTION wacrm_conversation_on_inbound() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  p text := left(TG_TABLE_NAME, length(TG_TABLE_NAME) - length('_customers'));
  a_id bigint;
  pick uuid;
BEGIN
  SELECT id INTO a_id FROM agents WHERE agent_prefix = p;
  IF OLD.conversation_status IN ('resolved', 'snoozed') THEN
    EXECUTE format('INSERT INTO %I (customer_id, kind, from_value, to_value) VALUES ($1, $2, $3, $4)',
                   p || '_conversation_events')
      USING NEW.id, 'status', OLD.conversation_status, 'open';
    NEW.conversation_status := 'open';
    NEW.snoozed_until := NULL;
    DELETE FROM conversation_snoozes WHERE agent_id = a_id AND customer_id = NEW.id;
  END IF;
  IF NEW.assignee_id IS NULL AND a_id IS NOT NULL THEN
    pick := wacrm_next_assignee(a_id);
    IF pick IS NOT NULL THEN
      NEW.assignee_id := pick;
      EXECUTE format('INSERT INTO %I (customer_id, kind, from_value, to_value) VALUES ($1, $2, $3, $4)',
                     p || '_conversation_events')
        USING NEW.id, 'assignee', NULL, pick::text;
    END IF;
  END IF;
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION wacrm_agent_step_0060(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  c text := p || '_customers';
BEGIN
  EXECUTE format($ddl$
    ALTER TABLE %1$I ADD COLUMN conversation_status text, ADD COLUMN snoozed_until timestamptz,
      ADD COLUMN assignee_id uuid;
    ALTER TABLE %1$I ADD CONSTRAINT %2$I
      CHECK (conversation_status IN ('open', 'pending', 'snoozed', 'resolved'));
    CREATE INDEX %3$I ON %1$I
      (coalesce(conversation_status, 'open'), last_message_at DESC NULLS LAST, id DESC);
    CREATE INDEX %4$I ON %1$I
      (assignee_id, coalesce(conversation_status, 'open'), last_message_at DESC NULLS LAST, id DESC);
    CREATE TRIGGER %5$I BEFORE UPDATE OF last_inbound_at ON %1$I FOR EACH ROW
      WHEN (NEW.last_inbound_at IS DISTINCT FROM OLD.last_inbound_at
            AND (OLD.conversation_status IN ('resolved', 'snoozed')
                 OR (OLD.last_inbound_at IS NULL AND NEW.assignee_id IS NULL)))
      EXECUTE FUNCTION wacrm_conversation_on_inbound();
  $ddl$, c, c || '_conversation_status_check', c || '_status_activity_idx',
     c || '_assignee_activity_idx', c || '_on_inbound');
  EXECUTE format($ddl$
    CREATE TABLE %1$I (
      customer_id integer NOT NULL,
      label_id bigint NOT NULL,
      CONSTRAINT %4$I PRIMARY KEY (label_id, customer_id),
      CONSTRAINT %5$I FOREIGN KEY (customer_id) REFERENCES %2$I(id) ON DELETE CASCADE,
      CONSTRAINT %6$I FOREIGN KEY (label_id) REFERENCES workspace_labels(id) ON DELETE CASCADE
    );
    CREATE INDEX %3$I ON %1$I (customer_id);
  $ddl$, p || '_conversation_labels', c, p || '_conversation_labels_customer_idx',
     p || '_conversation_labels_pkey', p || '_conversation_labels_customer_fkey',
     p || '_conversation_labels_label_fkey');
  EXECUTE format($ddl$
    CREATE TABLE %1$I (
      id bigint GENERATED ALWAYS AS IDENTITY,
      customer_id integer NOT NULL,
      actor_id uuid,
      kind text NOT NULL,
      from_value text,
      to_value text,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT %5$I PRIMARY KEY (id),
      CONSTRAINT %6$I FOREIGN KEY (customer_id) REFERENCES %2$I(id) ON DELETE CASCADE,
      CONSTRAINT %7$I CHECK (kind IN ('status', 'assignee', 'labels'))
    );
    CREATE INDEX %3$I ON %1$I (customer_id, created_at, id);
    CREATE INDEX %4$I ON %1$I (created_at);
  $ddl$, p || '_conversation_events', c, p || '_conversation_events_customer_idx',
     p || '_conversation_events_time_idx', p || '_conversation_events_pkey',
     p || '_conversation_events_customer_fkey', p || '_conversation_events_kind_check');
  EXECUTE format($ddl$
    CREATE TABLE %1$I (
      id bigint GENERATED ALWAYS AS IDENTITY,
      customer_id integer NOT NULL,
      author_id uuid,
      body text NOT NULL,
      mentions uuid[] NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT %5$I PRIMARY KEY (id),
      CONSTRAINT %6$I FOREIGN KEY (customer_id) REFERENCES %2$I(id) ON DELETE CASCADE,
      CONSTRAINT %7$I CHECK (length(body) BETWEEN 1 AND 4000)
    );
    CREATE INDEX %3$I ON %1$I (customer_id, created_at, id);
    CREATE INDEX %4$I ON %1$I USING gin (mentions);
  $ddl$, p || '_notes', c, p || '_notes_customer_idx', p || '_notes_mentions_idx',
     p || '_notes_pkey', p || '_notes_customer_fkey', p || '_notes_body_check');
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (60, 'wacrm_agent_step_0060', 'team inbox: conversation status and assignee, labels, events, notes')
ON CONFLICT (version) DO NOTHING;
