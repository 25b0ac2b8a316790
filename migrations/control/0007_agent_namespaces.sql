-- Agent identity (Sigilum profile, src/agents/). An agent namespace names the agents of one tenant
-- in every signed request (sigilum-namespace), so it is unique across the vault and lives here: a
-- request signed by an agent alone is routed to its tenant through this table.
CREATE TABLE agent_namespaces (
  namespace   text PRIMARY KEY CHECK (namespace ~ '^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$'),
  tenant_id   text NOT NULL REFERENCES tenants(id),
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_namespaces_tenant ON agent_namespaces (tenant_id);

-- A protected service's key ('service'): it submits agent claims and lists approved ones for its one
-- service, named by its slug in the tenant's protected_services.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scope_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scope_check CHECK (scope IN ('agent', 'reviewer', 'admin', 'service'));
ALTER TABLE api_keys ADD COLUMN service_slug text;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_service_slug_check CHECK ((scope = 'service') = (service_slug IS NOT NULL));
