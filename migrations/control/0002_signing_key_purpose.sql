-- Keys now have a purpose: 'token' keys sign A-JWTs, 'ledger' keys sign receipts and checkpoints.
-- JWKS publishes both (the SDK finds ledger keys there, protocol §2.5); only token keys verify tokens.
ALTER TABLE signing_keys ADD COLUMN purpose text NOT NULL DEFAULT 'token' CHECK (purpose IN ('token', 'ledger'));
