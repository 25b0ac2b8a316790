import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import YAML from "yaml";
import { compileCondition, ConditionCompileError } from "./cel.js";
import { policyText, type PolicyFormat } from "./policy-diff.js";
import { registerPolicySchema, type PolicyDocument } from "./policy-schema.js";

/** A policy read from a file (`countersign policies apply`), validated and with every condition compiled. */
export interface PolicyFile {
  file: string;
  doc: PolicyDocument;
}

/** Files that cannot be applied; each problem names the file, and the policy and condition when known. */
export class PolicyFileError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
  }
}

const EXTENSIONS = [".yaml", ".yml", ".json"];

/** Every *.yaml, *.yml and *.json under a directory (recursively, sorted), or the one file named. */
export async function policyFilePaths(target: string): Promise<string[]> {
  let info;
  try {
    info = await stat(target);
  } catch {
    throw new PolicyFileError([`${target}: no such file or directory`]);
  }
  if (!info.isDirectory()) return [target];
  const entries = await readdir(target, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && EXTENSIONS.includes(path.extname(e.name).toLowerCase()))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
  if (files.length === 0) throw new PolicyFileError([`${target}: no .yaml, .yml or .json policy files`]);
  return files;
}

/** The file's one value: JSON for .json, YAML otherwise (YAML 1.2 refuses repeated keys). */
export function parsePolicyText(file: string, text: string): unknown {
  if (path.extname(file).toLowerCase() === ".json") return JSON.parse(text);
  const docs = YAML.parseAllDocuments(text);
  if (!Array.isArray(docs)) return null;
  if (docs.length !== 1) throw new Error(`holds ${docs.length} YAML documents; write one policy per file`);
  const [doc] = docs;
  if (doc!.errors.length > 0) throw new Error(doc!.errors[0]!.message);
  return doc!.toJS();
}

/** Validates one file's value as a registration body and compiles each condition, as the vault would. */
export function checkPolicy(file: string, value: unknown): { policy?: PolicyFile; problems: string[] } {
  const named = value && typeof value === "object" && typeof (value as { policy_id?: unknown }).policy_id === "string" ? (value as { policy_id: string }).policy_id : null;
  const where = named ? `${file}: policy ${named}` : file;
  const parsed = registerPolicySchema.safeParse(value);
  if (!parsed.success) {
    return { problems: parsed.error.issues.map((i) => `${where}: ${i.path.length > 0 ? `${i.path.join(".")}: ` : ""}${i.message}`) };
  }
  const problems: string[] = [];
  for (const condition of parsed.data.conditions) {
    try {
      compileCondition(condition.when);
    } catch (err) {
      const why = err instanceof ConditionCompileError ? err.message : String(err);
      problems.push(`${file}: policy ${parsed.data.policy_id}: condition ${condition.id}: does not compile: ${why}`);
    }
  }
  return problems.length > 0 ? { problems } : { policy: { file, doc: parsed.data }, problems };
}

/**
 * Reads and checks every policy file under `target` before anything is planned: any unreadable
 * file, invalid policy, condition that does not compile, or policy id given by two files fails the
 * whole set, with every problem listed.
 */
export async function loadPolicyFiles(target: string): Promise<PolicyFile[]> {
  const problems: string[] = [];
  const policies: PolicyFile[] = [];
  for (const file of await policyFilePaths(target)) {
    let value: unknown;
    try {
      value = parsePolicyText(file, await readFile(file, "utf8"));
    } catch (err) {
      problems.push(`${file}: cannot be read as ${path.extname(file).toLowerCase() === ".json" ? "JSON" : "YAML"}: ${(err as Error).message}`);
      continue;
    }
    const checked = checkPolicy(file, value);
    problems.push(...checked.problems);
    if (checked.policy) policies.push(checked.policy);
  }
  const fileOf = new Map<string, string>();
  for (const p of policies) {
    const first = fileOf.get(p.doc.policy_id);
    if (first) problems.push(`policy ${p.doc.policy_id} is defined twice: in ${first} and in ${p.file}`);
    else fileOf.set(p.doc.policy_id, p.file);
  }
  if (problems.length > 0) throw new PolicyFileError(problems);
  return policies;
}

/**
 * The file name `export` writes a policy to. Policy ids may hold "/" and ":", which are not file
 * name characters everywhere; they are percent-encoded, so two ids never share a file. The name is
 * only a label: `apply` reads the policy_id from the content.
 */
export function policyFileName(policyId: string, format: PolicyFormat): string {
  return `${encodeURIComponent(policyId)}.${format}`;
}

/** What `export` writes: the registration body in canonical order, which `apply` reads back unchanged. */
export function exportedPolicyText(doc: PolicyDocument, format: PolicyFormat, note: string[] = []): string {
  const body = policyText(registrableContent(doc), format);
  if (format === "json" || note.length === 0) return body;
  return `${note.map((line) => `# ${line}`).join("\n")}\n${body}`;
}

/** The part of a stored version a registration body sets (no attached documents, no retired marker), with defaults. */
export function registrableContent(content: unknown): PolicyDocument {
  const c = content as Record<string, unknown>;
  return registerPolicySchema.parse({
    policy_id: c.policy_id,
    description: c.description,
    rules: c.rules,
    tools: c.tools,
    conditions: c.conditions,
    default_decision: c.default_decision,
  });
}
