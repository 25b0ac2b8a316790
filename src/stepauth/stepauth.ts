import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import type { LedgerWriter } from "../ledger/store/ledger-writer.js";
import type { Outbox } from "../outbox/outbox.js";
import { validateDirectoryQuery, peekSender } from "../protocols/stepauth/queries.js";
import type { ClearanceService } from "../requests/clearance-service.js";
import type { RequestLifecycle } from "../requests/lifecycle.js";
import type { ReviewSettingsCache } from "../requests/review-settings.js";
import type { TenantKeys } from "../tenancy/tenant-keys.js";
import { StepAuthCallbacks } from "./callback-deliverer.js";
import { StepAuthKindHandler } from "./callback-kind.js";
import { DecisionSigner } from "./decision-signer.js";
import { directoryPage, type DirectoryKind, type DirectoryPage } from "./directory.js";
import { authenticateEnvelope, stepAuthError } from "./envelope-auth.js";
import { HubKeys } from "./hub-keys.js";
import { defaultHubEntity, hubHost, readHubEntity, writeHubEntity } from "./hub-settings.js";
import { StepAuthLinkSweeper } from "./link-sweeper.js";
import { StepAuthQueries } from "./query-service.js";
import { stepAuthReviewMember } from "./review-member.js";
import { SenderAdmin } from "./sender-admin.js";
import type { StepAuthSender } from "./sender-store.js";
import { StepAuthSubmitter } from "./submit-service.js";

/**
 * The parts the lifecycle and the outbox worker need before the clearance service exists: the hub
 * keys, the decision signer, the kind handler (callback rows in the deciding transaction) and the
 * callback deliverer. Built first by the composition root (src/main/services.ts).
 */
export function stepAuthParts(deps: {
  tenantKeys: TenantKeys;
  clock: Clock;
  ledger: LedgerWriter;
  outbox: Pick<Outbox, "callback">;
  tenantSql: (tenantId: string) => Promise<Sql>;
  allowPrivateTargets: boolean;
  timeoutMs: number;
}) {
  const hubKeys = new HubKeys({ tenantKeys: deps.tenantKeys, clock: deps.clock });
  const signer = new DecisionSigner({ hubKeys, ledger: deps.ledger });
  const kindHandler = new StepAuthKindHandler(deps.outbox);
  const callbacks = new StepAuthCallbacks({ ...deps, signer });
  return { hubKeys, signer, kindHandler, callbacks };
}
export type StepAuthParts = ReturnType<typeof stepAuthParts>;

/**
 * Countersign as a StepAuth authorizer ("hub", docs/stepauth.md): each tenant's metadata, the SP
 * endpoints (submit, poll, cancel, directory), the admin API (senders, hub keysets and entity), the
 * console's view of a StepAuth request, and the sweeper that finishes interrupted submits.
 */
export class StepAuth {
  readonly senders: SenderAdmin;
  readonly submitter: StepAuthSubmitter;
  readonly queries: StepAuthQueries;
  readonly sweeper: StepAuthLinkSweeper;

  constructor(
    private readonly deps: StepAuthParts & {
      clearance: ClearanceService;
      lifecycle: RequestLifecycle;
      reviewSettings: ReviewSettingsCache;
      control: Sql;
      clock: Clock;
      log: Logger;
      publicUrl: string;
      tenantIds: () => Promise<string[]>;
      tenantSql: (tenantId: string) => Promise<Sql>;
      sweepIntervalMs: number;
    },
  ) {
    const hubEntity = (sql: Sql, tenantId: string) => this.hubEntity(sql, tenantId);
    this.senders = new SenderAdmin({ clock: deps.clock });
    this.queries = new StepAuthQueries({ ...deps, hubEntity });
    this.submitter = new StepAuthSubmitter({ ...deps, hubEntity, cancelRow: (sql, tenantId, row) => this.queries.cancelRow(sql, tenantId, row) });
    this.sweeper = new StepAuthLinkSweeper({ ...deps, submitter: this.submitter, intervalMs: deps.sweepIntervalMs });
  }

  hubEntity(sql: Sql, tenantId: string): Promise<string> {
    return readHubEntity(sql, defaultHubEntity(this.deps.publicUrl, tenantId), this.deps.clock.now());
  }

  /** GET /stepauth/{tenant}/v1/metadata: `{entity, keysets, host}`; the first call generates the keyset. */
  async metadata(sql: Sql, tenantId: string) {
    return { entity: await this.hubEntity(sql, tenantId), keysets: await this.deps.hubKeys.published(sql, tenantId), host: hubHost(this.deps.publicUrl, tenantId) };
  }

  /** GET /stepauth/hub: the entity, the endpoints' host, and every keyset with its state. */
  async hub(sql: Sql, tenantId: string) {
    await this.deps.hubKeys.current(sql, tenantId);
    const keysets = (await this.deps.hubKeys.list(sql)).map((k) => ({
      keyset: k.keyset,
      status: k.retired_at === null ? ("current" as const) : ("retired" as const),
      published: k.published,
      created_at: new Date(k.created_at).toISOString(),
      retired_at: k.retired_at ? new Date(k.retired_at).toISOString() : null,
    }));
    const host = hubHost(this.deps.publicUrl, tenantId);
    return { entity: await this.hubEntity(sql, tenantId), host, metadata_url: `${host}/v1/metadata`, keysets };
  }

  async rotate(sql: Sql, tenantId: string) {
    await this.deps.hubKeys.rotate(sql, tenantId);
    return this.hub(sql, tenantId);
  }

  async setEntity(sql: Sql, tenantId: string, entity: string) {
    await writeHubEntity(sql, entity, this.deps.clock.now());
    return this.hub(sql, tenantId);
  }

  /** POST /v1/users | /v1/groups | /v1/policies: a signed query bound to its path. */
  async directory(sql: Sql, tenantId: string, kind: DirectoryKind, body: Uint8Array | undefined, requestUri: string, limit: (s: StepAuthSender) => void): Promise<DirectoryPage> {
    const { payload } = await authenticateEnvelope(sql, body, peekSender, limit);
    const checked = validateDirectoryQuery(payload, { hubEntity: await this.hubEntity(sql, tenantId), requestUri, now: this.deps.clock.now() });
    if (!checked.ok) throw stepAuthError(checked.code, checked.message);
    return directoryPage({ control: this.deps.control, tenantId, sql }, kind, checked.value);
  }

  reviewMember(sql: Sql, clearanceRequestId: string) {
    return stepAuthReviewMember(sql, clearanceRequestId);
  }
}
