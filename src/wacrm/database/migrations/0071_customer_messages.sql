-- What the customer receives is the business's to choose (issue 17): the order status messages per
-- status in the workspace's language. NULL language: English; a status without its own text uses
-- the default sentence of that language.
ALTER TABLE agents ADD COLUMN IF NOT EXISTS language text;
ALTER TABLE order_notification_settings
  ADD COLUMN IF NOT EXISTS status_texts jsonb NOT NULL DEFAULT '{}'::jsonb;
