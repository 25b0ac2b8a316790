import { z } from "zod";

/**
 * Who signed a request, as far as Countersign verified it (Sigilum profile, src/agents/): the agent's
 * namespace, subject and key, and the approved claim that authorises that key. It is stored with the
 * clearance request (`agent_identity`), read by policy conditions as `agent`, and committed to by the
 * request's ledger events. Defined here, beside the principal, because every layer from the judge up
 * reads it and none of them may import the agents layer.
 */
export interface AgentIdentity {
  /** True only for a request signed by a key that holds an approved claim in its namespace. */
  verified: boolean;
  namespace: string;
  subject: string;
  /** `ed25519:<standard base64 of the raw key>`. */
  key: string;
  claim_id: string;
  /** The services the key holds approved claims for (sorted). */
  services: string[];
}

/** What an unsigned request looks like to conditions: nothing verified, every string empty. */
export const UNVERIFIED_AGENT: Readonly<AgentIdentity> = Object.freeze({
  verified: false,
  namespace: "",
  subject: "",
  key: "",
  claim_id: "",
  services: Object.freeze([]) as unknown as string[],
});

/** The stored and wire form (the remote judge's /evaluate body), checked on the way in. */
export const agentIdentitySchema = z.strictObject({
  verified: z.boolean(),
  namespace: z.string().max(64),
  subject: z.string().max(256),
  key: z.string().max(128),
  claim_id: z.string().max(64),
  services: z.array(z.string().max(64)).max(100),
});
