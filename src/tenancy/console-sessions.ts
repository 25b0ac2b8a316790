import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { hashApiKey, principalWhere, type Principal } from "./api-keys.js";

export const SESSION_COOKIE = "cs_session";
const SESSION_HOURS = 12;

/**
 * Console sign-ins: a reviewer (or admin) key is exchanged once for a random session token in an
 * HttpOnly cookie, so the key is not kept in the browser. Only the token's SHA-256 is stored; a
 * revoked key or a disabled reviewer ends its sessions at the next lookup.
 */
export class ConsoleSessions {
  constructor(
    private readonly control: Sql,
    private readonly clock: Clock,
  ) {}

  async open(principal: Principal): Promise<{ token: string; expiresAt: Date }> {
    const token = `css_${randomBytes(32).toString("base64url")}`;
    const expiresAt = new Date(this.clock.nowMs() + SESSION_HOURS * 3_600_000);
    await this.control.query("INSERT INTO console_sessions (token_hash, api_key_id, expires_at) VALUES ($1, $2, $3)", [
      hashApiKey(token), principal.keyId, expiresAt,
    ]);
    // Expired sessions are swept as new ones open; there is no other writer to this table.
    await this.control.query("DELETE FROM console_sessions WHERE expires_at < $1", [this.clock.now()]);
    return { token, expiresAt };
  }

  async authenticate(token: string): Promise<Principal> {
    if (token.length > 200) throw new AppError("unauthorized", "Unknown or expired console session");
    const principal = await principalWhere(
      this.control,
      "k.id = (SELECT s.api_key_id FROM console_sessions s WHERE s.token_hash = $1 AND s.expires_at > $2)",
      [hashApiKey(token), this.clock.now()],
    );
    if (!principal) throw new AppError("unauthorized", "Unknown or expired console session; sign in again");
    return principal;
  }

  async close(token: string): Promise<void> {
    await this.control.query("DELETE FROM console_sessions WHERE token_hash = $1", [hashApiKey(token)]);
  }
}

/** The session token from the Cookie header, if any (a tiny parser: one known cookie name). */
export function sessionTokenOf(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}
