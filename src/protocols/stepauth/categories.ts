/**
 * The closed action-category registry of StepAuth v1 (reference §3). The SDKs of v1 closed the
 * list the seed guide called free-form, so a hub rejects anything else with `unknown_category`.
 */
export const STEPAUTH_CATEGORIES = [
  "data.read",
  "data.export",
  "data.modify",
  "data.delete",
  "identity.create",
  "identity.modify",
  "identity.escalate",
  "identity.disable",
  "infra.modify",
  "infra.destroy",
  "financial.transfer",
  "financial.approve",
  "code.deploy",
  "code.release",
  "communication.send",
  "access.grant",
  "access.revoke",
] as const;

export type StepAuthCategory = (typeof STEPAUTH_CATEGORIES)[number];

const REGISTRY: ReadonlySet<string> = new Set(STEPAUTH_CATEGORIES);

export function isStepAuthCategory(value: unknown): value is StepAuthCategory {
  return typeof value === "string" && REGISTRY.has(value);
}
