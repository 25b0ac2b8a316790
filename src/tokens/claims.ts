/** The A-JWT claims the vault signs (wire protocol §3.3), shared by the issuer and the verifier. */
export interface ClearanceClaims {
  iss: string;
  aud: string;
  sub: "clearance";
  iat: number;
  exp: number;
  jti: string;
  tool: string;
  tool_args_hash: string;
  agent_id: string;
  session_id: string;
  policy_id: string;
  decision: "yes";
  request_id: string;
  tenant_id: string;
  parent_jti?: string;
  /**
   * Passkey-signed approvals (docs/passkeys.md): one per approving vote that carried a WebAuthn
   * assertion, so a consumer sees that a person signed this exact action. Absent when none did.
   */
  approvals?: TokenApproval[];
}

/** A passkey-signed approval as the token names it: the credential, and SHA-256 of its recorded assertion (ledger/core/passkey-chunk.ts). */
export interface TokenApproval {
  credential_id: string;
  assertion_digest: string;
}

export interface TokenSettings {
  issuer: string;
  audience: string;
  ttlSeconds: number;
}
