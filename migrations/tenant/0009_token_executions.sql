-- Execution reports (POST /tokens/{jti}/execution): what the action a burned token allowed did.
-- Kept on the token's own row, so recording one is a conditional UPDATE, like the burn: exactly one
-- report wins under any number of concurrent reporters and vault processes. executed_at is NULL
-- until the token's consumer reports (or a reviewer closes a lost consume as outcome 'unknown').
-- Plain nullable columns and a constant default only: no table rewrite. The CHECKs are NOT VALID,
-- so adding them scans nothing under the exclusive lock (every existing row is NULL anyway); new
-- writes are still checked.
ALTER TABLE issued_tokens
  ADD COLUMN executed_at                timestamptz,
  -- The API key (or the reviewer's console session key) that reported it.
  ADD COLUMN executed_by                text,
  -- The reviewer who closed a burn that was never reported ("name (id)"); NULL for a consumer's own report.
  ADD COLUMN execution_closed_by        text,
  ADD COLUMN execution_status           integer,
  ADD COLUMN execution_outcome          text,
  ADD COLUMN execution_duration_ms      bigint,
  ADD COLUMN execution_response_sha256  text,
  ADD COLUMN execution_detail           text,
  ADD COLUMN execution_event_uuid       text,
  -- Whether the token's burn expects a report: false for every token issued before this migration
  -- (their consumers predate execution reports, so they never report), true for tokens issued after.
  ADD COLUMN execution_expected         boolean NOT NULL DEFAULT false;
ALTER TABLE issued_tokens ALTER COLUMN execution_expected SET DEFAULT true;
ALTER TABLE issued_tokens ADD CONSTRAINT issued_tokens_execution_status_check CHECK (execution_status BETWEEN 100 AND 599) NOT VALID;
ALTER TABLE issued_tokens ADD CONSTRAINT issued_tokens_execution_outcome_check CHECK (execution_outcome IN ('succeeded', 'failed', 'error', 'unknown')) NOT VALID;
ALTER TABLE issued_tokens ADD CONSTRAINT issued_tokens_execution_duration_check CHECK (execution_duration_ms >= 0) NOT VALID;
-- Lost-consume recovery (GET /tokens/unreported) pages burns never reported, newest first. Partial:
-- a reported token leaves the index, so it stays as small as the backlog of unreported burns.
CREATE INDEX issued_tokens_unreported ON issued_tokens (consumed_at DESC, jti DESC)
  WHERE consumed_at IS NOT NULL AND executed_at IS NULL AND execution_expected;
