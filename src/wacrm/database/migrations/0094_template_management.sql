-- Template management (docs/whatsapp.md, "Message templates"): Meta's id of each cached template,
-- why it was rejected, when its status last changed, and its category before Meta changed it.
ALTER TABLE whatsapp_templates ADD COLUMN IF NOT EXISTS template_id text;
ALTER TABLE whatsapp_templates ADD COLUMN IF NOT EXISTS rejected_reason text;
ALTER TABLE whatsapp_templates ADD COLUMN IF NOT EXISTS status_updated_at timestamptz;
ALTER TABLE whatsapp_templates ADD COLUMN IF NOT EXISTS previous_category text;
CREATE INDEX IF NOT EXISTS whatsapp_templates_id_idx ON whatsapp_templates (template_id);
