-- A broadcast of a template with an IMAGE, VIDEO or DOCUMENT header carries that header's media
-- ({type, link} or {type, id}), sent as the header parameter of every recipient's message
-- (docs/whatsapp.md, "Media headers"; docs/schema.md). NULL for templates without one.
ALTER TABLE broadcasts ADD COLUMN header_media jsonb;
