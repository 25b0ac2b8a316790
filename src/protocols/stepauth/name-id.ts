/**
 * NameIDs name people, groups and policies as `type:value` (reference §3): `email` and
 * `persistent` name one person, `group` and `policy` name sets of them. The value is everything
 * after the first colon, so it may itself hold colons (`persistent:idp:1234`); it must not be empty.
 */
export type NameIdType = "email" | "persistent" | "group" | "policy";

export interface NameId {
  type: NameIdType;
  value: string;
}

const TYPES: ReadonlySet<string> = new Set<NameIdType>(["email", "persistent", "group", "policy"]);

export function parseNameId(s: unknown): NameId | null {
  if (typeof s !== "string") return null;
  const colon = s.indexOf(":");
  if (colon <= 0) return null;
  const type = s.slice(0, colon);
  const value = s.slice(colon + 1);
  if (!TYPES.has(type) || value === "") return null;
  return { type: type as NameIdType, value };
}

/** True for a NameID that names exactly one person (`email:` or `persistent:`). */
export function isIndividual(s: unknown): boolean {
  const id = parseNameId(s);
  return id !== null && (id.type === "email" || id.type === "persistent");
}
