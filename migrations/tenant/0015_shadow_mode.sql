-- Shadow mode (issue 17, src/policies/policy-modes.ts): whether a policy, or the whole tenant, decides
-- requests (enforce) or is only evaluated and recorded (shadow). Kept apart from policy_versions: a
-- mode is not part of the policy document, so switching it changes no content hash and no version.
-- Every change is also a `vault.audit` ledger event written in the same transaction.

-- One row per policy whose mode was ever set; a policy without a row enforces.
CREATE TABLE policy_modes (
  policy_id   text PRIMARY KEY,
  mode        text NOT NULL CHECK (mode IN ('enforce', 'shadow')),
  changed_at  timestamptz NOT NULL,
  changed_by  text NOT NULL
);

-- The tenant's own mode, one row at most (id is always 1); no row means enforce with a review default.
-- shadow_default answers requests that only shadow-mode policies apply to.
CREATE TABLE tenant_mode (
  id              smallint PRIMARY KEY CHECK (id = 1),
  mode            text NOT NULL CHECK (mode IN ('enforce', 'shadow')),
  shadow_default  text NOT NULL CHECK (shadow_default IN ('approve', 'review', 'deny')),
  changed_at      timestamptz NOT NULL,
  changed_by      text NOT NULL
);

-- Replay (POST /policies/{id}/replay) pages recorded clearance requests newest first within a window.
CREATE INDEX clearance_requests_replay ON clearance_requests (created_at DESC, id DESC) WHERE kind = 'clearance';
