import type { Clock } from "../../clock.js";
import type { Sql } from "../../db/sql.js";
import type { TenantKeys } from "../../tenancy/tenant-keys.js";
import type { Signer } from "../../tokens/signer.js";
import { sealBody } from "../core/body-cipher.js";
import { eventHash, receiptPayload, type LedgerEvent } from "../core/event-hash.js";
import { auditLedgerEvent, type AuditRecord } from "../core/audit-event.js";
import { clearanceEventType, ledgerEventFor, type DecidedRequest } from "../core/ledger-event.js";
import { leafHash } from "../core/merkle.js";
import type { LedgerEventType } from "../core/wire.js";

/** A ledger event ready to insert: hashed, signed (Ed25519 receipt, §4.4) and sealed. */
export interface PreparedLedgerEvent {
  event: LedgerEvent;
  type: LedgerEventType;
  eventHash: string;
  leafHash: string;
  /** Values for LEDGER_INSERT_COLUMNS, in order. */
  values: unknown[];
}

export const LEDGER_INSERT_COLUMNS = [
  "event_uuid", "event_type", "request_id", "accepted_at", "canonical_version", "body", "event_hash", "leaf_hash",
  "receipt_key_id", "receipt_signature",
] as const;

/** `INSERT ... VALUES` for one event whose parameters start at $offset+1 (for use inside CTEs). */
export function ledgerInsertSql(offset: number): string {
  const params = LEDGER_INSERT_COLUMNS.map((_, i) => `$${offset + i + 1}`).join(", ");
  return `INSERT INTO ledger_events (${LEDGER_INSERT_COLUMNS.join(", ")}) VALUES (${params})`;
}

/** `INSERT ... SELECT ... FROM <source>`: the event is written only if the source CTE produced a row. */
export function ledgerInsertFromSql(offset: number, source: string): string {
  const params = LEDGER_INSERT_COLUMNS.map((_, i) => `$${offset + i + 1}`).join(", ");
  return `INSERT INTO ledger_events (${LEDGER_INSERT_COLUMNS.join(", ")}) SELECT ${params} FROM ${source}`;
}

/**
 * Builds the ledger event of every decision. The event is written by the caller, in the same
 * statement or transaction as the decision itself, so a committed decision is a committed event.
 * The body is sealed with the tenant's ledger key (its bundle's `ledger_transport_key_base64`) or
 * else the vault's (VAULT_TRANSPORT_KEY_BASE64); hence the tenant id on every method.
 */
export class LedgerWriter {
  constructor(
    private readonly signer: Signer,
    private readonly keys: TenantKeys,
    private readonly clock: Clock,
  ) {}

  get receiptKeyId(): string {
    return this.signer.kid;
  }

  /** The event recording a clearance decision (approved, denied or sent to review). */
  forClearance(row: DecidedRequest, tenantId: string): Promise<PreparedLedgerEvent> {
    return this.prepare(row, clearanceEventType(row.status), undefined, tenantId);
  }

  /** `reason` replaces the request's own reason in the event (votes, mints, consumes). */
  prepare(row: DecidedRequest, type: LedgerEventType, reason: string | undefined, tenantId: string): Promise<PreparedLedgerEvent> {
    return this.seal(ledgerEventFor(row, type, this.clock.now(), reason), type, tenantId);
  }

  /**
   * A `vault.audit` event (core/audit-record.ts): a fact that is not a request's, such as a passkey
   * enrolled or a grant revoked. The caller appends it in the transaction of the change it records.
   */
  prepareAudit(record: AuditRecord, tenantId: string): Promise<PreparedLedgerEvent> {
    return this.seal(auditLedgerEvent(record, this.clock.now()), "vault.audit", tenantId);
  }

  /** Hashes, signs the receipt (§4.4) and seals the body. */
  private async seal(event: LedgerEvent, type: LedgerEventType, tenantId: string): Promise<PreparedLedgerEvent> {
    const hash = eventHash(event);
    const leaf = Buffer.from(leafHash(Buffer.from(hash, "hex"))).toString("hex");
    const receipt = receiptPayload({
      leaf_hash: leaf,
      event_hash: hash,
      event_uuid: event.event_uuid,
      request_id: event.request_id,
      accepted_at: event.accepted_at,
      receipt_key_id: this.signer.kid,
    });
    const signature = Buffer.from(await this.signer.sign(receipt)).toString("base64url");
    const body = sealBody(JSON.stringify(event), event.event_uuid, this.keys.sealingKeysFor(tenantId, "ledger").seal);
    return {
      event,
      type,
      eventHash: hash,
      leafHash: leaf,
      values: [event.event_uuid, type, event.request_id, event.accepted_at, event.canonical_version, body, hash, leaf, this.signer.kid, signature],
    };
  }

  async append(sql: Sql, prepared: PreparedLedgerEvent): Promise<void> {
    await sql.query(ledgerInsertSql(0), prepared.values);
  }
}
