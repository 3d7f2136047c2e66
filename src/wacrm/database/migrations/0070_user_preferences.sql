-- Per-user preferences (issue 17): language, time zone and new-message alerts.
-- NULL language: from the browser's Accept-Language; NULL time zone: the browser's zone.
ALTER TABLE users ADD COLUMN IF NOT EXISTS language text;
ALTER TABLE users ADD COLUMN IF NOT EXISTS time_zone text;
ALTER TABLE users ADD COLUMN IF NOT EXISTS alert_sound boolean NOT NULL DEFAULT true;
ALTER TABLE users ADD COLUMN IF NOT EXISTS alert_desktop boolean NOT NULL DEFAULT true;
