-- Tenant database: review rules (tenant-wide and per policy), votes per reviewer, review expiry,
-- reminders and a feed of review changes for live consoles.

-- Tenant-wide review rules beside the confidence threshold (NULL: the defaults).
ALTER TABLE review_settings ADD COLUMN rules json;

CREATE TABLE policy_review_settings (
  policy_id   text PRIMARY KEY,
  rules       json NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The rules in force when a request went to review are kept with it: changing the settings later
-- does not move the goalposts of a review in progress.
ALTER TABLE clearance_requests
  ADD COLUMN review_rules json,
  ADD COLUMN expires_at timestamptz,
  ADD COLUMN reminded_at timestamptz,
  ADD COLUMN escalated_at timestamptz;
CREATE INDEX clearance_requests_pending ON clearance_requests (decided_at) WHERE status = 'pending_review';

-- One vote per reviewer (a person, or a key without a reviewer identity) per request.
ALTER TABLE review_decisions
  ADD COLUMN reviewer_id text,
  ADD COLUMN reviewer_name text NOT NULL DEFAULT '',
  ADD COLUMN reviewer_email text NOT NULL DEFAULT '',
  ADD COLUMN groups text[] NOT NULL DEFAULT '{}';
CREATE UNIQUE INDEX review_decisions_one_vote ON review_decisions (request_id, reviewer_id) WHERE reviewer_id IS NOT NULL;

-- Every change to a review, in order, so consoles in any vault process see it (SSE).
CREATE TABLE review_events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_id  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
