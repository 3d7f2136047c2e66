-- The rules of early statuses in one place (see docs/schema.md, "Inbound"): the messages' trigger
-- (wacrm_apply_early_status, migration 0010) and the sweep of stranded early statuses
-- (wacrm.inbound.early) both apply a wamid's early statuses through this function. The
-- highest-ranked status wins when it ranks above the message's; a `failed` one brings its error.
CREATE OR REPLACE FUNCTION wacrm_take_early_statuses(
  a_id bigint, w text,
  INOUT s text, INOUT s_at timestamptz,
  INOUT e_code integer, INOUT e_title text, INOUT e_details text)
LANGUAGE plpgsql AS $$
DECLARE
  e record;
BEGIN
  FOR e IN DELETE FROM inbound_early_statuses x WHERE x.agent_id = a_id AND x.wamid = w
           RETURNING x.* LOOP
    IF wacrm_status_rank(e.status) > wacrm_status_rank(s) THEN
      s := e.status;
      s_at := e.status_at;
    END IF;
    IF e.status = 'failed' THEN
      e_code := e.error_code;
      e_title := e.error_title;
      e_details := e.error_details;
    END IF;
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION wacrm_apply_early_status() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  IF NEW.wamid IS NULL OR NEW.direction <> 'outbound'
     OR (TG_OP = 'UPDATE' AND OLD.wamid IS NOT DISTINCT FROM NEW.wamid) THEN
    RETURN NEW;
  END IF;
  r := wacrm_take_early_statuses(TG_ARGV[0]::bigint, NEW.wamid, NEW.status, NEW.status_at,
                                 NEW.error_code, NEW.error_title, NEW.error_details);
  NEW.status := r.s;
  NEW.status_at := r.s_at;
  NEW.error_code := r.e_code;
  NEW.error_title := r.e_title;
  NEW.error_details := r.e_details;
  RETURN NEW;
END $$;
