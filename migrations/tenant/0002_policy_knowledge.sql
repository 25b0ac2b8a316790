-- Tenant database: policy documents, their embedded chunks, review settings, decision evidence.

CREATE TABLE policy_documents (
  id              text PRIMARY KEY,
  policy_id       text NOT NULL REFERENCES policies(policy_id),
  title           text NOT NULL,
  media_type      text NOT NULL CHECK (media_type IN ('text/markdown', 'text/plain')),
  content         text NOT NULL,
  content_hash    text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX policy_documents_policy ON policy_documents (policy_id);

-- One row per chunk per policy version: a new version copies the chunks it keeps, so a decision's
-- evidence always points at the exact text of the version that decided.
CREATE TABLE policy_chunks (
  id                 text PRIMARY KEY,
  policy_id          text NOT NULL,
  policy_version_id  text NOT NULL REFERENCES policy_versions(id),
  source             text NOT NULL CHECK (source IN ('description', 'rule', 'document')),
  document_id        text REFERENCES policy_documents(id),
  ordinal            integer NOT NULL,
  heading            text NOT NULL DEFAULT '',
  text               text NOT NULL,
  -- sha256 of the embedded text: identical text is never embedded twice with the same model.
  text_hash          text NOT NULL,
  embedding_model    text NOT NULL,
  dimensions         integer NOT NULL CHECK (dimensions > 0),
  -- Only chunks of current versions are in the HNSW index: older versions' copies are history
  -- (evidence of past decisions) and must not crowd the search.
  is_current         boolean NOT NULL DEFAULT true,
  created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX policy_chunks_version ON policy_chunks (policy_version_id);
CREATE INDEX policy_chunks_text ON policy_chunks (embedding_model, text_hash);

-- pgvector where the server has it (HNSW cosine indexes per dimension are created at run time);
-- otherwise unit-length float32 vectors as bytea, searched by an exact scan.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS vector;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'pgvector is installed but this role may not create it; using the exact scan';
    END;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
    EXECUTE 'ALTER TABLE policy_chunks ADD COLUMN embedding vector NOT NULL';
  ELSE
    ALTER TABLE policy_chunks ADD COLUMN embedding bytea NOT NULL;
  END IF;
END
$$;

-- Bumped in the same transaction as every change to policy_chunks, so in-process caches of the
-- exact scan (and of other processes) know when to reload.
CREATE TABLE knowledge_generation (
  singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  generation  bigint NOT NULL
);
INSERT INTO knowledge_generation (singleton, generation) VALUES (true, 0);

CREATE TABLE review_settings (
  singleton                  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  minimum_confidence_bucket  text NOT NULL CHECK (minimum_confidence_bucket IN ('extra_high', 'high', 'medium', 'low', 'none')),
  updated_at                 timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE clearance_requests
  ADD COLUMN minimum_confidence_bucket text NOT NULL DEFAULT 'high',
  ADD COLUMN citations json NOT NULL DEFAULT '[]',
  ADD COLUMN evidence_chunks json NOT NULL DEFAULT '[]',
  -- How the judge got there (steps taken, models used), for audits of the decision.
  ADD COLUMN judge_trace json NOT NULL DEFAULT '{}';
