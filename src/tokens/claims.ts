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
}

export interface TokenSettings {
  issuer: string;
  audience: string;
  ttlSeconds: number;
}
