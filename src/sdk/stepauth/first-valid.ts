import { verifyDecisionEnvelope, type Decision } from "../../protocols/stepauth/decision.js";
import type { HubIdentity } from "./wire.js";

/** One authorizer's answer to a request sent to several: its envelope may still be arriving. */
export interface DecisionCandidate {
  authorizer: string;
  hub: HubIdentity;
  /** The bytes sent to this authorizer (each has its own: recipientId differs). */
  requestBytes: Uint8Array;
  envelope: string | Uint8Array | Promise<string | Uint8Array>;
}

/**
 * "First valid signed decision wins" (reference §9): resolves with the first candidate, in the
 * order the envelopes arrive (array order for ones already here), whose envelope verifies against
 * its hub and request bytes; envelopes that fail verification or never arrive (rejected promises)
 * are skipped. Null when none verifies. Never rejects.
 */
export function firstValidDecision(candidates: readonly DecisionCandidate[], spEntity: string): Promise<{ authorizer: string; decision: Decision; envelope: string | Uint8Array } | null> {
  return new Promise((resolve) => {
    let open = candidates.length;
    if (open === 0) resolve(null);
    const settled = () => {
      if (--open === 0) resolve(null);
    };
    for (const c of candidates) {
      Promise.resolve(c.envelope)
        .then((envelope) => {
          const verified = verifyDecisionEnvelope(envelope, { hubKeysets: c.hub.keysets, hubEntity: c.hub.entity, spEntity, requestBytes: c.requestBytes });
          if (verified.ok) resolve({ authorizer: c.authorizer, decision: verified.decision, envelope });
        })
        .catch(() => undefined)
        .finally(settled);
    }
  });
}
