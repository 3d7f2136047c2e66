-- Enumerated types the seed refers to (`role`, `media_type`). Idempotent: safe on a database
-- created from the seed, where they may already exist.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'user_role') THEN
        CREATE TYPE user_role AS ENUM ('admin', 'agent');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'media_type') THEN
        CREATE TYPE media_type AS ENUM (
            'none', 'image', 'video', 'audio', 'document', 'sticker', 'location', 'contacts'
        );
    END IF;
END
$$;

-- What inbound WhatsApp messages need beyond the seed's list.
ALTER TYPE media_type ADD VALUE IF NOT EXISTS 'interactive';
ALTER TYPE media_type ADD VALUE IF NOT EXISTS 'button';
ALTER TYPE media_type ADD VALUE IF NOT EXISTS 'reaction';
ALTER TYPE media_type ADD VALUE IF NOT EXISTS 'order';
ALTER TYPE media_type ADD VALUE IF NOT EXISTS 'template';
ALTER TYPE media_type ADD VALUE IF NOT EXISTS 'system';
ALTER TYPE media_type ADD VALUE IF NOT EXISTS 'unsupported';
