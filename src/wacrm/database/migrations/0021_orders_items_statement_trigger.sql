-- Orders: the items trigger of 0020 becomes statement-level (transition tables), so a statement
-- that writes many items (a bulk load, a catalog order) recomputes each touched order once
-- instead of once per item. Same rule and locking as before; see docs/schema.md, "Orders".

-- After a statement on items: lock every touched order (in id order, so two multi-order
-- statements cannot deadlock; FOR NO KEY UPDATE does not conflict with the items' foreign-key
-- FOR KEY SHARE), then touch them; the orders' BEFORE UPDATE trigger recomputes each total in a
-- statement that starts after the locks are held, so it sees every committed concurrent change.
CREATE OR REPLACE FUNCTION wacrm_orders_items_changed_stmt() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  orders_table text := left(TG_TABLE_NAME, length(TG_TABLE_NAME) - length('_items'));
  touched text;
BEGIN
  touched := CASE TG_OP
    WHEN 'INSERT' THEN 'SELECT order_id FROM new_rows'
    WHEN 'DELETE' THEN 'SELECT order_id FROM old_rows'
    ELSE 'SELECT order_id FROM new_rows UNION SELECT order_id FROM old_rows'
  END;
  EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %I.%I WHERE id IN (%s) ORDER BY id FOR NO KEY UPDATE) l',
                 TG_TABLE_SCHEMA, orders_table, touched);
  EXECUTE format('UPDATE %I.%I SET updated_at = now() WHERE id IN (%s)',
                 TG_TABLE_SCHEMA, orders_table, touched);
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION wacrm_agent_step_0021(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  i text := p || '_orders_items';
BEGIN
  PERFORM wacrm_check_prefix(p);
  EXECUTE format($ddl$
    DROP TRIGGER IF EXISTS wacrm_orders_items_changed ON %1$I;
    CREATE TRIGGER wacrm_orders_items_inserted AFTER INSERT ON %1$I
      REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION wacrm_orders_items_changed_stmt();
    CREATE TRIGGER wacrm_orders_items_updated AFTER UPDATE ON %1$I
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION wacrm_orders_items_changed_stmt();
    CREATE TRIGGER wacrm_orders_items_deleted AFTER DELETE ON %1$I
      REFERENCING OLD TABLE AS old_rows
      FOR EACH STATEMENT EXECUTE FUNCTION wacrm_orders_items_changed_stmt();
  $ddl$, i);
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (21, 'wacrm_agent_step_0021', 'orders: items trigger per statement (transition tables)')
ON CONFLICT (version) DO NOTHING;
