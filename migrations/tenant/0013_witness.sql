-- Tenant database: C2SP tlog-witness cosigning of checkpoints (VAULT_LEDGER_WITNESSES, src/ledger/witnessing/).

-- Witnessing bookkeeping beside each checkpoint. The signed columns stay immutable (0003's trigger
-- lists them); these may change, within the rules of ledger_checkpoints_cosigned_once below.
--   witness_status: none (never submitted: no witnesses, or superseded before its turn), pending
--   (being submitted for the first time), witnessed (quorum met), unwitnessed (below quorum; retried
--   at next_witness_at while it is the newest checkpoint).
--   witness_cosignatures: the verified cosignature lines gathered so far (below quorum too), so a retry
--   asks only the witnesses still missing.
--   cosigned_note: note || the cosignature lines, set once, when the quorum is met.
--   cosigned_exported: the anchor's `checkpoint` object was written with cosigned_note.
ALTER TABLE ledger_checkpoints
  ADD COLUMN witness_status text NOT NULL DEFAULT 'none' CHECK (witness_status IN ('none', 'pending', 'witnessed', 'unwitnessed')),
  ADD COLUMN witness_attempts integer NOT NULL DEFAULT 0,
  ADD COLUMN next_witness_at timestamptz,
  ADD COLUMN witness_error text,
  ADD COLUMN witness_cosignatures text NOT NULL DEFAULT '',
  ADD COLUMN cosigned_note text,
  ADD COLUMN witnessed_at timestamptz,
  ADD COLUMN cosigned_exported boolean NOT NULL DEFAULT false;

-- The newest witnessed checkpoint is what a bundle is proven in when one covers its event.
CREATE INDEX ledger_checkpoints_witnessed ON ledger_checkpoints (checkpoint_id) WHERE witness_status = 'witnessed';
-- The few checkpoints with an attempt scheduled: each pass retires the older ones without scanning the log.
CREATE INDEX ledger_checkpoints_witness_due ON ledger_checkpoints (checkpoint_id) WHERE next_witness_at IS NOT NULL;

-- A cosigned note is the signed note with lines added: set once, never changed or removed, and a
-- witnessed checkpoint stays witnessed. So no later write can swap the cosignatures anchors and
-- bundles served, nor pass off another tree head under this checkpoint's row.
CREATE TRIGGER ledger_checkpoints_cosigned_once BEFORE UPDATE ON ledger_checkpoints FOR EACH ROW
  WHEN ((OLD.cosigned_note IS NOT NULL AND NEW.cosigned_note IS DISTINCT FROM OLD.cosigned_note)
     OR (NEW.cosigned_note IS NOT NULL AND left(NEW.cosigned_note, length(NEW.note)) <> NEW.note)
     OR (OLD.witness_status = 'witnessed' AND NEW.witness_status <> 'witnessed')
     OR (NEW.witness_status = 'witnessed' AND NEW.cosigned_note IS NULL))
  EXECUTE FUNCTION ledger_refuse_change();

-- What each configured witness last told this log: the tree size it holds for our origin (the next
-- add-checkpoint's `old`), its last cosignature, and its current refusal (NULL once it cosigns again),
-- which raises the ledger.witness_refused alert once per change rather than on every retry.
CREATE TABLE ledger_witness_state (
  witness_key               text PRIMARY KEY,
  witness_name              text NOT NULL,
  tree_size                 bigint NOT NULL DEFAULT 0 CHECK (tree_size >= 0),
  last_cosigned_checkpoint  bigint,
  last_cosigned_at          timestamptz,
  last_attempt_at           timestamptz,
  last_error                text,
  refusal                   text,
  refused_at                timestamptz
);
