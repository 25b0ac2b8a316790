-- Tenant database: outbound webhook endpoints, review notification channels (Slack, email), and the
-- durable outbox that delivers both. Rows are written in the same transaction as the change they
-- report, so an acknowledged change is never without its deliveries.

CREATE TABLE webhook_endpoints (
  id           text PRIMARY KEY,
  url          text NOT NULL,
  -- The HMAC key must be usable to sign, so it cannot be hashed: 'aes256gcm:v1:...' under
  -- VAULT_TRANSPORT_KEY_BASE64 when set (bound to the id), else as given.
  secret       text NOT NULL,
  -- Subscribed event types; empty means every event.
  events       text[] NOT NULL DEFAULT '{}',
  description  text NOT NULL DEFAULT '',
  enabled      boolean NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL
);

-- One Slack and one email channel per route: the tenant default (policy_id NULL) or one policy.
CREATE TABLE notification_channels (
  id                text PRIMARY KEY,
  kind              text NOT NULL CHECK (kind IN ('slack', 'email')),
  policy_id         text,
  -- An incoming-webhook URL is itself the credential: sealed like the webhook secrets.
  slack_url         text,
  email_recipients  text[],
  -- Notification kinds sent on this channel; empty means every kind.
  notify            text[] NOT NULL DEFAULT '{}',
  created_at        timestamptz NOT NULL,
  CHECK ((kind = 'slack' AND slack_url IS NOT NULL AND email_recipients IS NULL)
      OR (kind = 'email' AND email_recipients IS NOT NULL AND slack_url IS NULL))
);
-- Policy ids are never empty, so '' stands for the tenant default in the unique route.
CREATE UNIQUE INDEX notification_channels_route ON notification_channels (kind, COALESCE(policy_id, ''));

-- One row per delivery. Workers claim due rows with FOR UPDATE SKIP LOCKED and push next_attempt_at
-- past the delivery timeout (a lease), so several vault processes share the work and a process that
-- dies mid-delivery leaves the row pending, to be retried once the lease runs out: at least once.
CREATE TABLE outbox (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind             text NOT NULL CHECK (kind IN ('webhook', 'slack', 'email')),
  -- Stable across retries; sent as X-Countersign-Delivery (and the webhook body's id) for dedup.
  delivery_id      text NOT NULL UNIQUE,
  event_type       text NOT NULL,
  request_id       text,
  -- Webhooks: the endpoint (URL and secret are read at delivery time). Removing the endpoint
  -- removes its deliveries: there is nobody left to deliver them to.
  endpoint_id      text REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  -- Slack: the sealed incoming-webhook URL; email: the recipients as a JSON array. Copied from the
  -- channel at enqueue time, so changing the settings later does not strand a notification.
  target           text,
  -- The exact text sent (webhooks: the signed JSON body; Slack: the message; email: subject/text/html).
  payload          text NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at  timestamptz NOT NULL,
  last_error       text,
  last_status      integer,
  created_at       timestamptz NOT NULL,
  delivered_at     timestamptz,
  CHECK ((kind = 'webhook') = (endpoint_id IS NOT NULL)),
  CHECK (kind = 'webhook' OR target IS NOT NULL)
);
-- The workers' scan: only pending rows, in due order.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';
-- Listings: an endpoint's deliveries, and dead (or other) entries newest first.
CREATE INDEX outbox_endpoint ON outbox (endpoint_id, id) WHERE endpoint_id IS NOT NULL;
CREATE INDEX outbox_status ON outbox (status, id);
