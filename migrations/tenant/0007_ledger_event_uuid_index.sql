-- Proofs may name an event by event_uuid alone (GET /ledger/proof/bundle|inclusion|tlog?event_uuid=).
-- Without an index each such request reads the tenant's whole event table (0.5-0.9 s at 1M events),
-- which any key of the tenant could repeat to stall the database. A hash index answers equality,
-- the only lookup made, and stores a 4-byte hash per row instead of the 36-character text.
CREATE INDEX ledger_events_uuid ON ledger_events USING hash (event_uuid);
