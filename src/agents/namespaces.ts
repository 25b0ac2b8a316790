import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { sqlState, UNIQUE_VIOLATION } from "../db/sql.js";
import { AppError } from "../errors.js";

/**
 * Agent namespaces (Sigilum's `sigilum-namespace`): unique across the vault, each owned by one tenant,
 * so they live in the control database (migrations/control/0007_agent_namespaces.sql). A request an
 * agent signs without an API key finds its tenant here.
 */

/** The Sigilum SDK's namespace form: lowercase letters, digits and inner hyphens, 3-64 characters. */
export const NAMESPACE_PATTERN = /^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$/;
/** Namespaces one tenant may register: each is a routing entry every signed request may look up. */
export const MAX_NAMESPACES_PER_TENANT = 100;

export interface AgentNamespace {
  namespace: string;
  tenant_id: string;
  created_at: Date;
}

export async function registerNamespace(control: Sql, tenantId: string, namespace: string): Promise<AgentNamespace> {
  return control.transaction(async (tx) => {
    // Serialises registrations of one tenant, so two at once cannot both pass the count.
    await tx.query("SELECT id FROM tenants WHERE id = $1 FOR UPDATE", [tenantId]);
    const [count] = await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM agent_namespaces WHERE tenant_id = $1", [tenantId]);
    if (Number(count?.n ?? 0) >= MAX_NAMESPACES_PER_TENANT) {
      throw new AppError("bad_request", `A tenant may register at most ${MAX_NAMESPACES_PER_TENANT} agent namespaces`);
    }
    const rows = await tx.query<AgentNamespace>(
      "INSERT INTO agent_namespaces (namespace, tenant_id) VALUES ($1, $2) ON CONFLICT (namespace) DO NOTHING RETURNING namespace, tenant_id, created_at",
      [namespace, tenantId],
    );
    if (!rows[0]) throw new AppError("agent_namespace_taken", `The agent namespace ${namespace} is already registered`);
    return rows[0];
  }).catch((err) => {
    if (sqlState(err) === UNIQUE_VIOLATION) throw new AppError("agent_namespace_taken", `The agent namespace ${namespace} is already registered`);
    throw err;
  });
}

export async function listNamespaces(control: Sql, tenantId: string): Promise<AgentNamespace[]> {
  return control.query<AgentNamespace>("SELECT namespace, tenant_id, created_at FROM agent_namespaces WHERE tenant_id = $1 ORDER BY namespace", [tenantId]);
}

/**
 * namespace → tenant, with a short positive cache: every signed request asks. Unknown namespaces are
 * not cached (anyone can sign with a made-up namespace, and they must not fill memory), and the cache
 * is bounded. A namespace is never moved to another tenant, so a cached answer cannot go stale.
 */
export class NamespaceDirectory {
  private readonly cache = new Map<string, { tenantId: string; until: number }>();
  private static readonly maxEntries = 10_000;

  constructor(
    private readonly control: Sql,
    private readonly clock: Clock,
    private readonly ttlMs = 60_000,
  ) {}

  async tenantOf(namespace: string): Promise<string | null> {
    const now = this.clock.nowMs();
    const hit = this.cache.get(namespace);
    if (hit && hit.until > now) return hit.tenantId;
    const [row] = await this.control.query<{ tenant_id: string }>("SELECT tenant_id FROM agent_namespaces WHERE namespace = $1", [namespace]);
    if (!row) return null;
    if (this.cache.size >= NamespaceDirectory.maxEntries) this.cache.clear();
    this.cache.set(namespace, { tenantId: row.tenant_id, until: now + this.ttlMs });
    return row.tenant_id;
  }
}
