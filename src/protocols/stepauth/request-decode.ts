import { asObject } from "./strict-json.js";

/**
 * The first reading of an AuthorizationRequest payload: members by their JSON type only, the way
 * Go's decoder fills the SDK's structs. A member of the wrong type is malformed; absent or null
 * reads as empty. The field rules run afterwards on this shape (authorization-request.ts).
 */
export interface RawPrincipal {
  subject: string;
  attributes: unknown;
  operator: RawPrincipal | null;
}

export interface RawRequest {
  requestId: string;
  senderId: string;
  recipientId: string;
  timestamp: string;
  expiresAt: string;
  callbackUrl: string;
  principal: RawPrincipal;
  action: { type: string; category: string; name: string; summary: string; details: unknown; target: { id: string; kind: string } | null; approver: string };
  policyVersion: string | undefined;
  /** Operators below the principal, counted to the end of the chain. */
  operatorDepth: number;
}

class WrongType extends Error {}

function str(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw new WrongType(`${where}${key} must be a string`);
  return v;
}

function obj(v: unknown, where: string): Record<string, unknown> | null {
  if (v === undefined || v === null) return null;
  const o = asObject(v);
  if (!o) throw new WrongType(`${where} must be an object`);
  return o;
}

function array(v: unknown, where: string): unknown {
  if (v !== undefined && v !== null && !Array.isArray(v)) throw new WrongType(`${where} must be an array`);
  return v;
}

/** Iterative: an operator chain of any length is walked without recursion. */
function principalChain(value: unknown): { principal: RawPrincipal; depth: number } {
  const top: RawPrincipal = { subject: "", attributes: undefined, operator: null };
  let at: RawPrincipal = top;
  let o = obj(value, "principal");
  let where = "principal";
  let depth = -1;
  while (o) {
    depth++;
    at.subject = str(o, "subject", `${where}.`);
    at.attributes = array(o.attributes, `${where}.attributes`);
    where += ".operator";
    const next = obj(o.operator, where);
    if (next) {
      at.operator = { subject: "", attributes: undefined, operator: null };
      at = at.operator;
    }
    o = next;
  }
  return { principal: top, depth: Math.max(depth, 0) };
}

export function decodeRequest(value: unknown): { ok: true; raw: RawRequest } | { ok: false; message: string } {
  const o = asObject(value);
  if (!o) return { ok: false, message: "the payload must be a JSON object" };
  try {
    const action = obj(o.action, "action") ?? {};
    const target = obj(action.target, "action.target");
    const { principal, depth } = principalChain(o.principal);
    const policyVersion = o.policyVersion === undefined || o.policyVersion === null ? undefined : str(o, "policyVersion", "");
    return {
      ok: true,
      raw: {
        requestId: str(o, "requestId", ""),
        senderId: str(o, "senderId", ""),
        recipientId: str(o, "recipientId", ""),
        timestamp: str(o, "timestamp", ""),
        expiresAt: str(o, "expiresAt", ""),
        callbackUrl: str(o, "callbackUrl", ""),
        principal,
        action: {
          type: str(action, "type", "action."),
          category: str(action, "category", "action."),
          name: str(action, "name", "action."),
          summary: str(action, "summary", "action."),
          details: array(action.details, "action.details"),
          target: target ? { id: str(target, "id", "action.target."), kind: str(target, "kind", "action.target.") } : null,
          approver: str(action, "approver", "action."),
        },
        policyVersion,
        operatorDepth: depth,
      },
    };
  } catch (err) {
    if (err instanceof WrongType) return { ok: false, message: err.message };
    throw err;
  }
}
