import { readFileSync } from "node:fs";
import { Command } from "commander";
import { CommandError } from "../cli-errors.js";
import { print, terminalSafe } from "../output.js";
import { withVault } from "../vault-session.js";
import { TENANT_OPTION_TEXT, vaultOptionsOf } from "../vault-options.js";
import { withExamples } from "../help.js";

interface Keyset { keysetId: string; keys: { idx: number; alg: string; pub: string }[] }
interface Sender { id: string; entity: string; keysets: Keyset[]; callback_pattern: string | null; description: string; disabled_at: string | null; created_at: string }
interface Hub { entity: string; host: string; metadata_url: string; keysets: { keyset: Keyset; status: string; published: boolean; created_at: string; retired_at: string | null }[] }

/** The keysets in a JSON file: one keyset (hybrid, or a seed-era {keyId, publicKey}) or an array of them. */
function keysetsFrom(files: string[]): unknown[] {
  return files.flatMap((file) => {
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw new CommandError(`${file}: not a readable JSON file (${(err as Error).message})`);
    }
    return Array.isArray(value) ? value : [value];
  });
}

const senderLine = (s: Sender) =>
  `${s.id}  ${terminalSafe(s.entity)}  keysets ${s.keysets.map((k) => terminalSafe(k.keysetId)).join(",")}  callback ${terminalSafe(s.callback_pattern ?? "(poll only)")}${s.disabled_at ? "  removed" : ""}`;

function hubText(h: Hub): string {
  const keysets = h.keysets.map((k) => `  ${terminalSafe(k.keyset.keysetId)}  ${k.status}${k.published ? ", published" : ""}  created ${k.created_at}${k.retired_at ? `  retired ${k.retired_at}` : ""}`);
  return [`entity:   ${terminalSafe(h.entity)}`, `host:     ${h.host}`, `metadata: ${h.metadata_url}`, "keysets:", ...keysets].join("\n");
}

/** `countersign stepauth ...`: the StepAuth hub's senders and keysets, through the vault's admin API. */
export function stepauthCommand(): Command {
  const stepauth = new Command("stepauth").summary("StepAuth hub: senders (service providers) and hub keysets").description(
    "Countersign as a StepAuth authorizer: register the service providers (senders) that send signed authorization requests, and show or rotate the tenant's hub keyset. Talks to the running vault, else to the database directly.",
  );

  const senders = new Command("senders").summary("register, list and remove StepAuth senders");
  const add = new Command("add")
    .summary("register a sender")
    .description("Register a service provider: its entity (senderId), its public keysets (JSON files), and where its decisions may be delivered")
    .requiredOption("--entity <entity>", "the sender's entity, as its requests name it in senderId")
    .requiredOption("--keyset <file>", "a JSON file with a keyset ({keysetId, keys} or seed-era {keyId, publicKey}) or an array of them; repeatable", (f: string, all: string[]) => [...all, f], [] as string[])
    .option("--callback-pattern <pattern>", "an exact https URL, or a prefix ending in * (https://sp.example.com/callbacks/*); none: poll only")
    .option("--description <text>", "what the sender is")
    .option("--tenant <id>", TENANT_OPTION_TEXT)
    .option("--json", "print the result as JSON")
    .action(async (opts: { entity: string; keyset: string[]; callbackPattern?: string; description?: string; json?: boolean }, command: Command) =>
      withVault(vaultOptionsOf(command), async (vault) => {
        const body = { entity: opts.entity, keysets: keysetsFrom(opts.keyset), callback_pattern: opts.callbackPattern ?? null, description: opts.description ?? "" };
        const s = await vault.request<Sender>("POST", "/stepauth/senders", { body });
        print(opts.json, s, `registered ${senderLine(s)}`);
      }),
    );
  withExamples(add, ["countersign stepauth senders add --entity sp.example.com --keyset sp-keyset.json --callback-pattern 'https://sp.example.com/stepauth/*'"]);

  const list = new Command("list")
    .summary("list senders")
    .description("List the tenant's StepAuth senders, removed ones too")
    .option("--tenant <id>", TENANT_OPTION_TEXT)
    .option("--json", "print the result as JSON")
    .action(async (opts: { json?: boolean }, command: Command) =>
      withVault(vaultOptionsOf(command), async (vault) => {
        const r = await vault.request<{ senders: Sender[] }>("GET", "/stepauth/senders");
        print(opts.json, r, r.senders.map(senderLine).join("\n") || "(no senders)");
      }),
    );
  withExamples(list, ["countersign stepauth senders list --json"]);

  const remove = new Command("remove")
    .summary("remove a sender")
    .description("Remove a sender: its requests are refused as unknown_sender and its callbacks stop; its requests and their replay state are kept")
    .argument("<sender_id>", "the sender's id (sps_...)")
    .option("--tenant <id>", TENANT_OPTION_TEXT)
    .option("--json", "print the result as JSON")
    .action(async (id: string, opts: { json?: boolean }, command: Command) =>
      withVault(vaultOptionsOf(command), async (vault) => {
        const s = await vault.request<Sender>("DELETE", `/stepauth/senders/${encodeURIComponent(id)}`);
        print(opts.json, s, `removed ${senderLine(s)}`);
      }),
    );
  withExamples(remove, ["countersign stepauth senders remove sps_2b8e4f1a-6c3d-4e5f-9a0b-7c1d2e3f4a5b"]);
  senders.addCommand(add).addCommand(list).addCommand(remove);

  const hub = new Command("hub").summary("show or rotate the tenant's hub keyset");
  const show = new Command("show")
    .summary("show the hub")
    .description("The hub's entity, its endpoints' host and metadata URL, and its keysets (current, retired, published)")
    .option("--tenant <id>", TENANT_OPTION_TEXT)
    .option("--json", "print the result as JSON")
    .action(async (opts: { json?: boolean }, command: Command) =>
      withVault(vaultOptionsOf(command), async (vault) => {
        const h = await vault.request<Hub>("GET", "/stepauth/hub");
        print(opts.json, h, hubText(h));
      }),
    );
  withExamples(show, ["countersign stepauth hub show"]);
  const rotate = new Command("rotate")
    .summary("rotate the hub keyset")
    .description("Make a new keyset current; the old one signs the decisions of requests submitted under it and stays published while they need it")
    .option("--tenant <id>", TENANT_OPTION_TEXT)
    .option("--json", "print the result as JSON")
    .action(async (opts: { json?: boolean }, command: Command) =>
      withVault(vaultOptionsOf(command), async (vault) => {
        const h = await vault.request<Hub>("POST", "/stepauth/hub/rotate");
        print(opts.json, h, hubText(h));
      }),
    );
  withExamples(rotate, ["countersign stepauth hub rotate"]);
  hub.addCommand(show).addCommand(rotate);

  stepauth.addCommand(senders).addCommand(hub);
  return withExamples(stepauth, ["countersign stepauth senders add --entity sp.example.com --keyset sp-keyset.json", "countersign stepauth hub show"]);
}
