-- The seed's own SQL (../shared/seed/000_0f1a61fc3f295e18.txt), made runnable with only what
-- PostgreSQL requires: the enum types it names as USER-DEFINED, its sequences, and the invalid
-- DEFAULT of orders_items.total removed. Used to build a pre-existing database in tests.
CREATE TYPE user_role AS ENUM ('admin', 'agent');
CREATE TYPE media_type AS ENUM ('none', 'image', 'video', 'audio', 'document', 'sticker', 'location', 'contacts');
CREATE SEQUENCE agents_id_seq;
CREATE SEQUENCE whatsapp_configuration_id_seq;
CREATE SEQUENCE agt_3784_customers_id_seq;
CREATE SEQUENCE agt_3784_messages_id_seq;
CREATE SEQUENCE agt_3784_orders_id_seq;
CREATE SEQUENCE agt_3784_orders_items_id_seq;

CREATE TABLE public.users (
  name character varying NOT NULL,
  email character varying NOT NULL UNIQUE,
  role user_role NOT NULL,
  created_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  CONSTRAINT users_pkey PRIMARY KEY (id)
);

CREATE TABLE public.agents (
  id bigint NOT NULL DEFAULT nextval('agents_id_seq'::regclass),
  agent_prefix character varying NOT NULL UNIQUE,
  created_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP,
  user_id uuid,
  created_by uuid NOT NULL,
  CONSTRAINT agents_pkey PRIMARY KEY (id),
  CONSTRAINT agents_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id)
);

CREATE TABLE public.whatsapp_configuration (
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

CREATE TABLE public.agt_3784_customers (
  id integer NOT NULL DEFAULT nextval('agt_3784_customers_id_seq'::regclass),
  agent_id bigint NOT NULL DEFAULT '62'::bigint,
  name text NOT NULL,
  phone text NOT NULL,
  created_at timestamp without time zone DEFAULT now(),
  profile_image_url text,
  CONSTRAINT agt_3784_customers_pkey PRIMARY KEY (id),
  CONSTRAINT agt_3784_customers_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES public.agents(id)
);

CREATE TABLE public.agt_3784_messages (
  id integer NOT NULL DEFAULT nextval('agt_3784_messages_id_seq'::regclass),
  customer_id integer NOT NULL,
  message text NOT NULL,
  direction character varying NOT NULL CHECK (direction::text = ANY (ARRAY['inbound'::character varying, 'outbound'::character varying]::text[])),
  timestamp timestamp without time zone DEFAULT now(),
  is_read boolean DEFAULT false,
  media_type media_type DEFAULT 'none'::media_type,
  media_url text,
  caption text,
  CONSTRAINT agt_3784_messages_pkey PRIMARY KEY (id),
  CONSTRAINT agt_3784_messages_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.agt_3784_customers(id)
);

CREATE TABLE public.agt_3784_orders (
  id integer NOT NULL DEFAULT nextval('agt_3784_orders_id_seq'::regclass),
  customer_id integer NOT NULL,
  total_amount numeric DEFAULT 0,
  status character varying DEFAULT 'pending'::character varying,
  notes text,
  shipping_address text,
  created_at timestamp without time zone DEFAULT now(),
  updated_at timestamp without time zone DEFAULT now(),
  CONSTRAINT agt_3784_orders_pkey PRIMARY KEY (id),
  CONSTRAINT agt_3784_orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.agt_3784_customers(id)
);

CREATE TABLE public.agt_3784_orders_items (
  id integer NOT NULL DEFAULT nextval('agt_3784_orders_items_id_seq'::regclass),
  order_id integer NOT NULL,
  name text NOT NULL,
  quantity integer NOT NULL DEFAULT 1 CHECK (quantity > 0),
  price numeric NOT NULL DEFAULT 0 CHECK (price >= 0::numeric),
  total numeric,
  created_at timestamp without time zone DEFAULT now(),
  CONSTRAINT agt_3784_orders_items_pkey PRIMARY KEY (id),
  CONSTRAINT agt_3784_orders_items_order_id_fkey FOREIGN KEY (order_id) REFERENCES public.agt_3784_orders(id)
);
