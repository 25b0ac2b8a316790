import { Command } from "commander";
import { print, terminalSafe } from "../output.js";
import { withVault } from "../vault-session.js";
import { TENANT_OPTION_TEXT, vaultOptionsOf } from "../vault-options.js";
import { withExamples } from "../help.js";

interface Grant {
  id: string; status: string; scope: string; tool_name: string; policy_id: string; agent_id: string; session_id: string | null;
  window_minutes: number | null; constraint: string | null; constraint_words: string; starts_at: string; expires_at: string;
  source_request_id: string; approvers: { reviewer_name: string; passkey: boolean }[]; created_event_uuid: string;
  revoked_at: string | null; revoked_by: string | null; revoke_reason: string | null; revoked_event_uuid: string | null;
}

// Tool, agent, session and constraint come from requests and reviewers: terminalSafe, like any text someone else wrote.
function grantLine(g: Grant): string {
  const session = g.session_id !== null ? ` session ${terminalSafe(g.session_id)}` : "";
  return `${g.id}  ${g.status.padEnd(7)}  ${g.scope.padEnd(7)}  ${terminalSafe(g.tool_name)}  agent ${terminalSafe(g.agent_id)}${session}  until ${g.expires_at}  where ${terminalSafe(g.constraint_words)}`;
}

function grantDetail(g: Grant): string {
  const lines = [
    grantLine(g),
    `policy:      ${terminalSafe(g.policy_id)}`,
    `constraint:  ${g.constraint === null ? "(none: any arguments)" : terminalSafe(g.constraint)}`,
    `from:        ${g.source_request_id}, approved by ${g.approvers.map((a) => `${terminalSafe(a.reviewer_name)}${a.passkey ? " (passkey)" : ""}`).join(", ")}`,
    `valid:       ${g.starts_at} to ${g.expires_at}`,
    `ledger:      grant.created ${g.created_event_uuid}${g.revoked_event_uuid ? `, grant.revoked ${g.revoked_event_uuid}` : ""}`,
  ];
  if (g.revoked_at) lines.push(`revoked:     ${g.revoked_at} by ${terminalSafe(g.revoked_by ?? "")}${g.revoke_reason ? `: ${terminalSafe(g.revoke_reason)}` : ""}`);
  return lines.join("\n");
}

const common = (command: Command): Command => command.option("--tenant <id>", TENANT_OPTION_TEXT).option("--json", "print the result as JSON");

/** `countersign grants list|show|revoke` over the running vault's Grants API (docs/grants.md). */
export function grantsCommand(): Command {
  const grants = new Command("grants").summary("list, show and revoke scoped grants").description(
    "Scoped grants: approvals a reviewer widened to later matching requests of the same tool, policy and agent, for a session or a window (docs/grants.md). " +
      "Grants are created only by approving votes; here they are listed and revoked. Needs a reviewer or admin key.",
  );
  const list = common(
    new Command("list")
      .summary("list grants")
      .description("List active grants (default) or all of them, newest first")
      .option("--all", "include revoked and expired grants")
      .option("--limit <n>", "at most this many (1-200, default 50)"),
  ).action(async (opts: { all?: boolean; limit?: string; json?: boolean }, command: Command) =>
    withVault(vaultOptionsOf(command), async (vault) => {
      const r = await vault.request<{ grants: Grant[] }>("GET", "/grants", { query: { status: opts.all ? "all" : "active", limit: opts.limit } });
      print(opts.json, r, r.grants.map(grantLine).join("\n") || "(no grants)");
    }),
  );
  withExamples(list, ["countersign grants list", "countersign grants list --all --json"]);

  const show = common(new Command("show").summary("show one grant").description("Show a grant: scope, constraint in words, approvers, validity and its ledger events").argument("<grant_id>", "the grant's id (grt_...)")).action(
    async (id: string, opts: { json?: boolean }, command: Command) =>
      withVault(vaultOptionsOf(command), async (vault) => {
        const g = await vault.request<Grant>("GET", `/grants/${encodeURIComponent(id)}`);
        print(opts.json, g, grantDetail(g));
      }),
  );
  withExamples(show, ["countersign grants show grt_6f0d2b3e-9a41-4c7e-8b15-2d3e4f5a6b7c"]);

  const revoke = common(
    new Command("revoke")
      .summary("revoke a grant at once")
      .description("Revoke a grant: no request judged after this is approved by it. Recorded as a grant.revoked ledger event and webhook.")
      .argument("<grant_id>", "the grant's id (grt_...)")
      .option("--reason <text>", "why, for the ledger and the webhook"),
  ).action(async (id: string, opts: { reason?: string; json?: boolean }, command: Command) =>
    withVault(vaultOptionsOf(command), async (vault) => {
      const g = await vault.request<Grant>("POST", `/grants/${encodeURIComponent(id)}/revoke`, { body: { reason: opts.reason ?? "" } });
      print(opts.json, g, `revoked ${g.id} (ledger event ${g.revoked_event_uuid})`);
    }),
  );
  withExamples(revoke, ["countersign grants revoke grt_6f0d2b3e-9a41-4c7e-8b15-2d3e4f5a6b7c --reason 'ticket closed'"]);
  return grants.addCommand(list).addCommand(show).addCommand(revoke);
}
