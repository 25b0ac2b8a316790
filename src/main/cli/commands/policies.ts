import { Command } from "commander";

/** `countersign policies ...` (stub: the policies helper fills it in). */
export function policiesCommand(): Command {
  return new Command("policies").description("list, read, diff, retire, apply and export policies");
}
