import { Command, Option } from "commander";
import { print, terminalSafe } from "../output.js";
import { withVault } from "../vault-session.js";
import { TENANT_OPTION_TEXT, vaultOptionsOf } from "../vault-options.js";
import { withExamples } from "../help.js";

interface Namespace { namespace: string; tenant_id: string; created_at: string }
interface Service { slug: string; name: string; description: string; created_at: string }
interface ServiceKey { api_key_id: string; service: string; label: string; key_prefix: string; created_at: string; api_key: string }
interface Claim {
  claim_id: string; namespace: string; service: string; public_key: string; status: string; subject: string;
  agent_id: string | null; agent_name: string | null; agent_ip: string; request_id: string | null; reason: string | null;
  created_at: string; approved_at: string | null; decided_at: string | null; revoked_at: string | null;
}
interface Review { status?: string; approvals?: { received?: number; required?: number } }

const CLAIM_STATUSES = ["pending", "approved", "rejected", "revoked"];

const serviceLine = (s: Service) => `${terminalSafe(s.slug)}  ${terminalSafe(s.name)}${s.description ? `  (${terminalSafe(s.description)})` : ""}`;

// The subject, agent's name and id come from the claim a service submitted: terminalSafe, like any text someone else wrote.
function claimLine(c: Claim): string {
  const agent = c.agent_name || c.agent_id ? `  agent ${terminalSafe([c.agent_name, c.agent_id && `(${c.agent_id})`].filter(Boolean).join(" "))}` : "";
  const reason = c.reason ? `  reason: ${terminalSafe(c.reason)}` : "";
  return `${c.claim_id}  ${c.status.padEnd(8)}  ${terminalSafe(c.namespace)}  ${terminalSafe(c.service)}  ${c.public_key}  subject ${terminalSafe(c.subject)}${agent}${reason}`;
}

/** Options every subcommand shares: which tenant, and JSON output. */
function common(command: Command): Command {
  return command.option("--tenant <id>", TENANT_OPTION_TEXT).option("--json", "print the result as JSON");
}

function namespacesCommand(): Command {
  const namespaces = new Command("namespaces").summary("register and list the tenant's agent namespaces");
  const add = common(
    new Command("add")
      .summary("register a namespace")
      .description("Register the namespace the tenant's agents sign with (sigilum-namespace): 3-64 characters of a-z, 0-9 and inner -, unique across the vault, at most 100 per tenant")
      .argument("<namespace>", "the namespace, for example acme-corp"),
  ).action(async (namespace: string, opts: { json?: boolean }, command: Command) =>
    withVault(vaultOptionsOf(command), async (vault) => {
      const row = await vault.request<Namespace>("POST", "/agent-namespaces", { body: { namespace } });
      print(opts.json, row, `registered ${row.namespace} for tenant ${row.tenant_id}`);
    }),
  );
  withExamples(add, ["countersign agents namespaces add acme-corp"]);
  const list = common(new Command("list").summary("list namespaces").description("List the tenant's agent namespaces, by name")).action(
    async (opts: { json?: boolean }, command: Command) =>
      withVault(vaultOptionsOf(command), async (vault) => {
        const r = await vault.request<{ namespaces: Namespace[] }>("GET", "/agent-namespaces");
        print(opts.json, r, r.namespaces.map((n) => `${n.namespace}  created ${n.created_at}`).join("\n") || "(no namespaces)");
      }),
  );
  withExamples(list, ["countersign agents namespaces list --json"]);
  return namespaces.addCommand(add).addCommand(list);
}

function servicesCommand(): Command {
  const services = new Command("services").summary("register and list protected services, and create their keys");
  const add = common(
    new Command("add")
      .summary("register a protected service")
      .description("Register a service agents claim access to (Sigilum's service slug); give it a key with `countersign agents services key`")
      .argument("<slug>", "the service's slug: lowercase letters, digits and inner hyphens, at most 64")
      .requiredOption("--name <text>", "the service's name, as reviewers see it")
      .option("--description <text>", "what the service is"),
  ).action(async (slug: string, opts: { name: string; description?: string; json?: boolean }, command: Command) =>
    withVault(vaultOptionsOf(command), async (vault) => {
      const body = { slug, name: opts.name, ...(opts.description !== undefined ? { description: opts.description } : {}) };
      const s = await vault.request<Service>("POST", "/protected-services", { body });
      print(opts.json, s, `registered ${serviceLine(s)}`);
    }),
  );
  withExamples(add, ["countersign agents services add billing-api --name 'Billing API' --description 'Invoices and refunds'"]);

  const list = common(new Command("list").summary("list protected services").description("List the tenant's protected services, by slug")).action(
    async (opts: { json?: boolean }, command: Command) =>
      withVault(vaultOptionsOf(command), async (vault) => {
        const r = await vault.request<{ services: Service[] }>("GET", "/protected-services");
        print(opts.json, r, r.services.map(serviceLine).join("\n") || "(no services)");
      }),
  );
  withExamples(list, ["countersign agents services list"]);

  const key = common(
    new Command("key")
      .summary("create a service key (shown once)")
      .description(
        "Create an API key of scope service for this service: it submits agent claims and lists approved ones, nothing else. " +
          "Prints the raw key once (only its hash is stored); list and revoke it with `countersign keys list|revoke`.",
      )
      .argument("<slug>", "the service's slug")
      .option("--label <text>", "a note to tell keys apart in listings"),
  ).action(async (slug: string, opts: { label?: string; json?: boolean }, command: Command) =>
    withVault(vaultOptionsOf(command), async (vault) => {
      const k = await vault.request<ServiceKey>("POST", `/protected-services/${encodeURIComponent(slug)}/keys`, { body: opts.label !== undefined ? { label: opts.label } : {} });
      print(opts.json, k, `api_key_id: ${k.api_key_id}\napi_key:    ${k.api_key}   (service ${terminalSafe(k.service)}; shown once)`);
    }),
  );
  withExamples(key, ["countersign agents services key billing-api --label 'billing gateway'"]);
  return services.addCommand(add).addCommand(list).addCommand(key);
}

/** approve / reject: a vote through the review machinery, printed with the review's progress. */
function voteCommand(action: "approve" | "reject", description: string): Command {
  const command = common(
    new Command(action)
      .summary(`${action} a pending claim`)
      .description(description)
      .argument("<claim_id>", "the claim's id (cl_...)")
      .option("--reason <text>", "why, for the ledger and the service's webhook"),
  ).action(async (id: string, opts: { reason?: string; json?: boolean }, cmd: Command) =>
    withVault(vaultOptionsOf(cmd), async (vault) => {
      const r = await vault.request<Claim & { review: Review }>("POST", `/v1/claims/${encodeURIComponent(id)}/${action}`, { body: { reason: opts.reason ?? "" } });
      const a = r.review.approvals;
      const progress = `review: ${r.review.status ?? "unknown"}${a ? `, approvals ${a.received ?? 0}/${a.required ?? 0}` : ""}`;
      print(opts.json, r, `${claimLine(r)}\n${progress}`);
    }),
  );
  return withExamples(command, [`countersign agents claims ${action} cl_9f2c4e6a8b0d1f3a5c7e9b1d --reason 'known agent of the billing team'`]);
}

function claimsCommand(): Command {
  const claims = new Command("claims").summary("list, approve, reject and revoke agents' claims to services");
  const list = common(
    new Command("list")
      .summary("list claims")
      .description("List the tenant's agent claims, newest first; a claim's request_id is its review request (GET /reviews/{request_id})")
      .addOption(new Option("--status <status>", "only claims in this state").choices(CLAIM_STATUSES))
      .option("--limit <n>", "at most this many (1-500, default 100)"),
  ).action(async (opts: { status?: string; limit?: string; json?: boolean }, command: Command) =>
    withVault(vaultOptionsOf(command), async (vault) => {
      const r = await vault.request<{ claims: Claim[] }>("GET", "/agent-claims", { query: { status: opts.status, limit: opts.limit } });
      print(opts.json, r, r.claims.map(claimLine).join("\n") || "(no claims)");
    }),
  );
  withExamples(list, ["countersign agents claims list --status pending", "countersign agents claims list --json"]);

  const approve = voteCommand(
    "approve",
    "Vote to approve a pending claim: the claim's review needs the tenant's quorum, and the claim's subject cannot approve it. The claim stays pending until the review rules are met.",
  );
  const reject = voteCommand("reject", "Reject a pending claim: one rejection ends the review, and the claim is rejected (final).");
  const revoke = common(
    new Command("revoke")
      .summary("revoke an approved claim")
      .description("Revoke an approved claim: the agent's key loses the service at once")
      .argument("<claim_id>", "the claim's id (cl_...)")
      .option("--reason <text>", "why, for the ledger and the service's webhook"),
  ).action(async (id: string, opts: { reason?: string; json?: boolean }, command: Command) =>
    withVault(vaultOptionsOf(command), async (vault) => {
      const c = await vault.request<Claim>("POST", `/v1/claims/${encodeURIComponent(id)}/revoke`, { body: { reason: opts.reason ?? "" } });
      print(opts.json, c, `revoked ${claimLine(c)}`);
    }),
  );
  withExamples(revoke, ["countersign agents claims revoke cl_9f2c4e6a8b0d1f3a5c7e9b1d --reason 'laptop lost'"]);
  return claims.addCommand(list).addCommand(approve).addCommand(reject).addCommand(revoke);
}

/** `countersign agents ...`: agent identity (namespaces, protected services, claims), through the vault's admin API. */
export function agentsCommand(): Command {
  const agents = new Command("agents").summary("agent identity: namespaces, protected services and claims").description(
    "Agent identity (docs/agent-identity.md): register the namespaces the tenant's agents sign with and the services they claim access to, create service keys, and review agents' claims. Talks to the running vault, else to the database directly.",
  );
  agents.addCommand(namespacesCommand()).addCommand(servicesCommand()).addCommand(claimsCommand());
  return withExamples(agents, ["countersign agents namespaces add acme-corp", "countersign agents services add billing-api --name 'Billing API'", "countersign agents claims list --status pending"]);
}
