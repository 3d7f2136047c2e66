-- The seed's core tables, exactly as given (columns, types, nullability, defaults, keys).
-- Every statement is idempotent so that a database created from the seed is adopted as is.
-- include: ../schema/enums.sql

CREATE SEQUENCE IF NOT EXISTS agents_id_seq;
CREATE SEQUENCE IF NOT EXISTS whatsapp_configuration_id_seq;

CREATE TABLE IF NOT EXISTS public.users (
  name character varying NOT NULL,
  email character varying NOT NULL UNIQUE,
  role user_role NOT NULL,
  created_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  CONSTRAINT users_pkey PRIMARY KEY (id)
);

CREATE TABLE IF NOT EXISTS public.agents (
  id bigint NOT NULL DEFAULT nextval('agents_id_seq'::regclass),
  agent_prefix character varying NOT NULL UNIQUE,
  created_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP,
  user_id uuid,
  created_by uuid NOT NULL,
  CONSTRAINT agents_pkey PRIMARY KEY (id),
  CONSTRAINT agents_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id)
);
ALTER SEQUENCE agents_id_seq OWNED BY public.agents.id;

CREATE TABLE IF NOT EXISTS public.whatsapp_configuration (
  id bigint NOT NULL DEFAULT nextval('whatsapp_configuration_id_seq'::regclass),
  user_id uuid NOT NULL UNIQUE,
  whatsapp_number character varying NOT NULL,
  webhook_url text NOT NULL,
  api_key text,
  business_account_id character varying,
  phone_number_id character varying,
  is_active boolean DEFAULT true,
  created_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT whatsapp_configuration_pkey PRIMARY KEY (id),
  CONSTRAINT whatsapp_configuration_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id)
);
ALTER SEQUENCE whatsapp_configuration_id_seq OWNED BY public.whatsapp_configuration.id;
