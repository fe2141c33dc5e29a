-- The shared platform's schema, version 1 (docs/shared-sandbox.md step 3). Applied by src/postgres/migrations.rs in
-- one transaction under an advisory lock. Documents (`doc`) are the model's serde JSON; the columns beside them are
-- the indexes the backend queries. Timers the database compares (`due_at`, `close_at`, `lease_expires`) are wall
-- `timestamptz`: a merchant-clock ms minus that merchant's total offset, so "due?" is `<= clock_timestamp()`.

CREATE TABLE clocks (app_key text PRIMARY KEY, offset_ms bigint NOT NULL DEFAULT 0); -- '' = platform-wide
INSERT INTO clocks (app_key, offset_ms) VALUES ('', 0);

CREATE TABLE merchants (app_key text PRIMARY KEY, session text UNIQUE NOT NULL, doc jsonb NOT NULL);

CREATE SEQUENCE order_ids;
CREATE TABLE orders (
  id bigint PRIMARY KEY,
  app_key text NOT NULL REFERENCES merchants,
  state text NOT NULL,
  doc jsonb NOT NULL,
  close_at timestamptz);
CREATE INDEX orders_by_app_state ON orders (app_key, state, id);
CREATE INDEX orders_close ON orders (close_at) WHERE close_at IS NOT NULL;

-- A projection of each order's consumes for the one cross-order read (oplogs.get); rewritten with the order.
CREATE TABLE consumes (
  order_id bigint NOT NULL REFERENCES orders,
  app_key text NOT NULL, at_ms bigint NOT NULL, doc jsonb NOT NULL);
CREATE INDEX consumes_by_order ON consumes (order_id);
CREATE INDEX consumes_by_app_time ON consumes (app_key, at_ms);

-- One row per order whose delivery queue is not empty: its head's due time and lease.
CREATE TABLE deliveries (
  order_id bigint PRIMARY KEY REFERENCES orders,
  app_key text NOT NULL,
  due_at timestamptz NOT NULL,
  lease_token uuid, lease_holder text, lease_expires timestamptz);
CREATE INDEX deliveries_due ON deliveries (due_at);
CREATE INDEX deliveries_by_app ON deliveries (app_key);

-- Exchanges: kind 'g' = a gateway call, 'a' = a notification attempt. exchange_counts keeps what the per-order caps
-- need (latest 1000 gateway calls, first 10000 exchanges in all) so that recording one is a single statement:
-- gateway calls ever seen (those past 1000 were dropped, oldest first), attempts kept and dropped, and whether the
-- last attempt was admitted. Its row lock serialises two recorders of one order.
CREATE TABLE exchanges (seq bigserial PRIMARY KEY, order_id bigint NOT NULL, kind "char" NOT NULL, doc jsonb NOT NULL);
CREATE INDEX exchanges_by_order ON exchanges (order_id, kind, seq);
CREATE TABLE exchange_counts (
  order_id bigint PRIMARY KEY, gateway_seen int NOT NULL DEFAULT 0, attempts_kept int NOT NULL DEFAULT 0,
  attempts_dropped bigint NOT NULL DEFAULT 0, last_admitted boolean NOT NULL DEFAULT true);

CREATE SEQUENCE fault_ids;
CREATE TABLE gateway_faults (
  id bigint PRIMARY KEY, method text NOT NULL, app_key text, order_id bigint, times_left int NOT NULL,
  action jsonb NOT NULL);
CREATE TABLE notification_faults (id bigint PRIMARY KEY, order_id bigint NOT NULL);
CREATE INDEX notification_faults_by_order ON notification_faults (order_id);

CREATE TABLE qr_images (name text PRIMARY KEY, bytes bytea NOT NULL);

-- Partial indexes for the dispatcher's sleep (`next_wake`): free heads by due time, leases by expiry.
CREATE INDEX deliveries_free_due ON deliveries (due_at) WHERE lease_expires IS NULL;
CREATE INDEX deliveries_leases ON deliveries (lease_expires) WHERE lease_expires IS NOT NULL;

-- A merchant's (or with '' the platform's) total clock offset, and its clock's now in epoch ms, on the database's
-- clock. Every timer conversion goes through these two, so no replica's clock is ever compared.
CREATE FUNCTION clock_offset_ms(app text) RETURNS bigint LANGUAGE sql STABLE AS
  $$ SELECT coalesce(sum(offset_ms), 0)::bigint FROM clocks WHERE app_key IN ('', app) $$;
CREATE FUNCTION clock_now_ms(app text) RETURNS bigint LANGUAGE sql VOLATILE AS
  $$ SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint + clock_offset_ms(app) $$;
CREATE FUNCTION clock_wall(app text, ms bigint) RETURNS timestamptz LANGUAGE sql STABLE AS
  $$ SELECT to_timestamp((ms - clock_offset_ms(app))::float8 / 1000) $$;
-- Every transaction that may write a timer holds this shared advisory lock from its first statement; a clock
-- advance takes it exclusively, so no timer is converted with an offset the advance is replacing, and (taken before
-- any row lock) it cannot deadlock with the row locks the advance's shifts wait for.
CREATE FUNCTION hold_clocks() RETURNS boolean LANGUAGE sql VOLATILE AS
  $$ SELECT true FROM pg_advisory_xact_lock_shared(1129270091, 0) $$;
