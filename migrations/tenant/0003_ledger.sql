-- Tenant database: the append-only Merkle ledger (RFC 6962 tree in C2SP tlog-tiles, signed checkpoints).

-- One row per decision event, written in the same transaction as the decision. leaf_index is NULL
-- until the sequencer gives the event its place in the tree.
CREATE TABLE ledger_events (
  seq                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Unique by construction (118 random bits): no index to maintain on the decision path.
  event_uuid         text NOT NULL,
  event_type         text NOT NULL,
  request_id         text NOT NULL,
  -- Exact string hashed and signed: the SDK compares it byte for byte (protocol §4.12).
  accepted_at        text NOT NULL,
  canonical_version  smallint NOT NULL CHECK (canonical_version IN (1, 2, 3)),
  -- The hashed body as JSON, or 'aes256gcm:v1:...' when VAULT_TRANSPORT_KEY_BASE64 is set. The
  -- hashes commit to the plaintext, so proofs verify either way.
  body               text NOT NULL,
  event_hash         text NOT NULL,
  leaf_hash          text NOT NULL,
  receipt_key_id     text NOT NULL,
  receipt_signature  text NOT NULL,
  leaf_index         bigint CHECK (leaf_index >= 0)
);
-- Partial, so writing an event (leaf_index still NULL) adds no entry to it.
CREATE UNIQUE INDEX ledger_events_leaf ON ledger_events (leaf_index) WHERE leaf_index IS NOT NULL;
CREATE INDEX ledger_events_request ON ledger_events (request_id, seq);
-- The sequencer reads only what is still unsequenced.
CREATE INDEX ledger_events_unsequenced ON ledger_events (seq) WHERE leaf_index IS NULL;

-- Full tiles: 256 hashes, written once and never changed.
CREATE TABLE ledger_tiles (
  level   smallint NOT NULL,
  idx     bigint NOT NULL,
  hashes  bytea NOT NULL CHECK (length(hashes) = 8192),
  PRIMARY KEY (level, idx)
);

-- The right edge: at most one partial tile per level, replaced as the tree grows.
CREATE TABLE ledger_partial_tiles (
  level   smallint PRIMARY KEY,
  idx     bigint NOT NULL,
  hashes  bytea NOT NULL CHECK (length(hashes) BETWEEN 32 AND 8160 AND length(hashes) % 32 = 0)
);

CREATE TABLE ledger_state (
  singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  tree_size   bigint NOT NULL,
  -- The log's identity, fixed at the first checkpoint so later configuration cannot change it.
  origin      text
);
INSERT INTO ledger_state (singleton, tree_size) VALUES (true, 0);

-- Each checkpoint in both signed forms over the same tree size and root: the Ledgix CBOR payload
-- (chained by prev_checkpoint_hash) and the C2SP signed note.
CREATE TABLE ledger_checkpoints (
  checkpoint_id         bigint PRIMARY KEY,
  tree_size             bigint NOT NULL,
  root_hash             text NOT NULL,
  checkpoint_hash       text NOT NULL UNIQUE,
  prev_checkpoint_hash  text NOT NULL,
  signer_key_id         text NOT NULL,
  payload               bytea NOT NULL,
  signature             text NOT NULL,
  signed_at             text NOT NULL,
  mmd_seconds           integer NOT NULL,
  export_target         text NOT NULL,
  note                  text NOT NULL,
  export_status         text NOT NULL DEFAULT 'pending' CHECK (export_status IN ('pending', 'exported', 'failed')),
  export_uri            text NOT NULL DEFAULT '',
  export_attempts       integer NOT NULL DEFAULT 0,
  export_error          text,
  next_export_at        timestamptz NOT NULL,
  exported_at           timestamptz
);
CREATE INDEX ledger_checkpoints_size ON ledger_checkpoints (tree_size);
CREATE INDEX ledger_checkpoints_unexported ON ledger_checkpoints (checkpoint_id) WHERE export_status <> 'exported';

-- Append-only, enforced by the database: an event may only receive its leaf index once; tiles and
-- checkpoints (apart from their export bookkeeping) never change; nothing is deleted. The WHEN
-- clauses keep the check cheap on the sequencer's bulk UPDATE.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger table % is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER ledger_events_no_delete BEFORE DELETE ON ledger_events FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_events_no_change BEFORE UPDATE ON ledger_events FOR EACH ROW
  WHEN (OLD.leaf_index IS NOT NULL
     OR ROW(OLD.seq, OLD.event_uuid, OLD.event_type, OLD.request_id, OLD.accepted_at, OLD.canonical_version, OLD.body,
            OLD.event_hash, OLD.leaf_hash, OLD.receipt_key_id, OLD.receipt_signature)
        IS DISTINCT FROM
        ROW(NEW.seq, NEW.event_uuid, NEW.event_type, NEW.request_id, NEW.accepted_at, NEW.canonical_version, NEW.body,
            NEW.event_hash, NEW.leaf_hash, NEW.receipt_key_id, NEW.receipt_signature))
  EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_tiles_no_change BEFORE UPDATE OR DELETE ON ledger_tiles FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_checkpoints_no_delete BEFORE DELETE ON ledger_checkpoints FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
-- Row triggers do not fire on TRUNCATE: refuse it separately.
CREATE TRIGGER ledger_events_no_truncate BEFORE TRUNCATE ON ledger_events FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_tiles_no_truncate BEFORE TRUNCATE ON ledger_tiles FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_partial_tiles_no_truncate BEFORE TRUNCATE ON ledger_partial_tiles FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_state_no_truncate BEFORE TRUNCATE ON ledger_state FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_checkpoints_no_truncate BEFORE TRUNCATE ON ledger_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- A right-edge tile may only grow (same index, longer, same prefix) or give way to the next index
-- at its level; the sequencer also checks the edge against the events and the last checkpoint.
CREATE TRIGGER ledger_partial_tiles_only_grow BEFORE UPDATE ON ledger_partial_tiles FOR EACH ROW
  WHEN (NOT (NEW.level = OLD.level AND (NEW.idx > OLD.idx
        OR (NEW.idx = OLD.idx AND length(NEW.hashes) > length(OLD.hashes) AND substring(NEW.hashes FROM 1 FOR length(OLD.hashes)) = OLD.hashes))))
  EXECUTE FUNCTION ledger_refuse_change();

CREATE TRIGGER ledger_checkpoints_no_change BEFORE UPDATE ON ledger_checkpoints FOR EACH ROW
  WHEN (ROW(OLD.checkpoint_id, OLD.tree_size, OLD.root_hash, OLD.checkpoint_hash, OLD.prev_checkpoint_hash, OLD.signer_key_id,
            OLD.payload, OLD.signature, OLD.signed_at, OLD.mmd_seconds, OLD.export_target, OLD.note)
        IS DISTINCT FROM
        ROW(NEW.checkpoint_id, NEW.tree_size, NEW.root_hash, NEW.checkpoint_hash, NEW.prev_checkpoint_hash, NEW.signer_key_id,
            NEW.payload, NEW.signature, NEW.signed_at, NEW.mmd_seconds, NEW.export_target, NEW.note))
  EXECUTE FUNCTION ledger_refuse_change();
