-- Scoped grants and edit-on-approve (src/grants/, docs/grants.md).
--
-- A grant widens one human approval to later requests of the same tool, policy and agent (and
-- session, for scope 'session') until it expires or is revoked; matching reads this table on every
-- candidate request (no cache), so a revoke stops it at once. 'once' approvals create no row.
CREATE TABLE grants (
  id                 text PRIMARY KEY,
  scope              text NOT NULL CHECK (scope IN ('session', 'window')),
  tool_name          text NOT NULL,
  policy_id          text NOT NULL,
  agent_id           text NOT NULL,
  -- The API key that submitted the approved request: agent_id is a label any agent key of the tenant
  -- may send, so a grant is also bound to the key (and to the verified Sigilum signer, when there was one).
  api_key_id         text NOT NULL,
  agent_signer       text,
  -- Scope 'session' only: the session the grant is bound to (never '').
  session_id         text CHECK ((scope = 'session') = (session_id IS NOT NULL AND session_id <> '')),
  window_minutes     integer CHECK (window_minutes IS NULL OR window_minutes BETWEEN 1 AND 43200),
  -- A CEL expression over `args`; NULL: any arguments.
  arg_constraint     text,
  starts_at          timestamptz NOT NULL,
  expires_at         timestamptz NOT NULL CHECK (expires_at > starts_at),
  -- The approved request it was created from (one grant per request at most).
  source_request_id  text NOT NULL UNIQUE,
  -- The approving votes: [{reviewer_id, reviewer_name, reviewer_email, groups, api_key_id, passkey}],
  -- checked again against the review rules of every request it would approve.
  approvers          jsonb NOT NULL,
  created_at         timestamptz NOT NULL,
  -- The grant.created vault.audit event.
  created_event_uuid text NOT NULL,
  revoked_at         timestamptz,
  revoked_by         text,
  revoke_reason      text,
  revoked_event_uuid text
);
-- The matching query: active grants of one tool and agent.
CREATE INDEX grants_match ON grants (tool_name, agent_id, api_key_id, expires_at) WHERE revoked_at IS NULL;
CREATE INDEX grants_listing ON grants (created_at, id);

-- What each approving vote approved beyond the request itself: every approving vote of a request
-- must carry the same grant spec and the same edited arguments as the first.
ALTER TABLE review_decisions
  ADD COLUMN grant_spec jsonb,
  ADD COLUMN edited_tool_args jsonb;

-- Edit-on-approve: the arguments the reviewers approved instead of the requested ones (the token
-- binds their hash; tool_args and tool_args_hash stay as requested). grant_id: the grant that approved
-- the request (reason_code grant_approved); a grant an approval created names its request instead.
ALTER TABLE clearance_requests
  ADD COLUMN approved_tool_args jsonb,
  ADD COLUMN approved_tool_args_hash text,
  ADD COLUMN grant_id text;
