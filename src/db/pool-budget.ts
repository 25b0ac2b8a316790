import type { Sql } from "./sql.js";

/**
 * How many PostgreSQL connections vault processes may open, against what the server allows.
 *
 * Each process opens one pool on the control database and one per tenant database it touches, so at
 * most:  processes × (VAULT_CONTROL_PLANE_DB_MAX_OPEN_CONNS + tenants × VAULT_TENANT_DB_MAX_OPEN_CONNS)
 * connections, which must stay within  max_connections − superuser_reserved_connections (− the
 * reserved_connections of PostgreSQL 16+). Past it, the server refuses connections ("too many clients")
 * and a busy process fails requests instead of queueing them in its pool.
 */
export interface PoolBudget {
  controlMax: number;
  tenantMax: number;
  tenants: number;
  maxConnections: number;
  reserved: number;
}

export interface PoolBudgetVerdict {
  /** Connections one process may open. */
  perProcess: number;
  /** Connections the server allows to ordinary roles. */
  available: number;
  /** How many vault processes (each with this many tenants) fit the server. */
  processesThatFit: number;
  /** Set when even one process does not fit: what to change. */
  warning?: string;
}

export function judgePoolBudget(b: PoolBudget): PoolBudgetVerdict {
  const perProcess = b.controlMax + b.tenants * b.tenantMax;
  const available = Math.max(0, b.maxConnections - b.reserved);
  const processesThatFit = Math.floor(available / perProcess);
  const verdict: PoolBudgetVerdict = { perProcess, available, processesThatFit };
  if (perProcess > available) {
    verdict.warning =
      `PostgreSQL connection budget exceeded: one vault process may open ${perProcess} connections ` +
      `(VAULT_CONTROL_PLANE_DB_MAX_OPEN_CONNS=${b.controlMax} + ${b.tenants} tenant(s) × VAULT_TENANT_DB_MAX_OPEN_CONNS=${b.tenantMax}), ` +
      `but the server allows ${available} for all processes together (max_connections ${b.maxConnections} − ${b.reserved} reserved). ` +
      `Lower VAULT_TENANT_DB_MAX_OPEN_CONNS or VAULT_CONTROL_PLANE_DB_MAX_OPEN_CONNS, or raise max_connections, so that ` +
      `processes × (control + tenants × tenant) ≤ max_connections − superuser_reserved_connections.`;
  }
  return verdict;
}

async function setting(sql: Sql, name: string): Promise<number> {
  const rows = await sql.query<{ value: string | null }>("SELECT current_setting($1, true) AS value", [name]);
  // NULL: a parameter this server does not have (reserved_connections before PostgreSQL 16).
  return Number(rows[0]?.value ?? 0) || 0;
}

/** Reads the server's limits through `control` and judges this process's pools against them. */
export async function checkPoolBudget(
  control: Sql,
  pools: { controlMax: number; tenantMax: number },
  tenants: number,
): Promise<PoolBudgetVerdict & PoolBudget> {
  const maxConnections = await setting(control, "max_connections");
  const reserved = (await setting(control, "superuser_reserved_connections")) + (await setting(control, "reserved_connections"));
  const budget = { ...pools, tenants: Math.max(1, tenants), maxConnections, reserved };
  return { ...budget, ...judgePoolBudget(budget) };
}
