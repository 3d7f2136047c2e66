-- A failed contact import keeps why as a code and its values (docs/schema.md, "Contact imports"),
-- so the page shows it in the viewer's language; `failure` stays the English sentence (the API,
-- and imports that failed before this column).
ALTER TABLE contact_imports
  ADD COLUMN failure_code text,
  ADD COLUMN failure_params jsonb;
