import { ConfigError } from "./config-error.js";
import type { RawEnv } from "./env-schema.js";

/** Where tokens and ledger receipts are signed: a key in the process, or two keys in AWS KMS. */
export type SignerConfig =
  | { backend: "local"; keyId: string }
  | {
      backend: "aws_kms";
      /** The token key's kid in JWKS (VAULT_KEY_ID) and its KMS key. */
      keyId: string;
      kmsKeyId: string;
      /** The ledger key's kid in JWKS and its KMS key. */
      ledgerKeyId: string;
      ledgerKmsKeyId: string;
      maxInFlight: number;
      timeoutMs: number;
    };

/** VAULT_SIGNER_BACKEND and its keys, checked together: a half-configured backend stops start-up. */
export function signerConfig(e: RawEnv): SignerConfig {
  if (e.VAULT_SIGNER_BACKEND === "local") {
    if (e.VAULT_KMS_KEY_ID || e.VAULT_LEDGER_KMS_KEY_ID) {
      throw new ConfigError("Invalid configuration:\n  VAULT_KMS_KEY_ID: KMS keys are set but VAULT_SIGNER_BACKEND is local; set VAULT_SIGNER_BACKEND=aws_kms or unset them");
    }
    return { backend: "local", keyId: e.VAULT_KEY_ID };
  }
  const missing = (["VAULT_KMS_KEY_ID", "VAULT_LEDGER_KMS_KEY_ID"] as const).filter((name) => !e[name]);
  if (missing.length > 0) {
    throw new ConfigError(`Invalid configuration:\n${missing.map((name) => `  ${name}: required when VAULT_SIGNER_BACKEND=aws_kms`).join("\n")}`);
  }
  if (e.VAULT_PRIVATE_KEY_FILE || e.VAULT_PRIVATE_KEY_BASE64) {
    throw new ConfigError("Invalid configuration:\n  VAULT_PRIVATE_KEY_FILE: a local private key and VAULT_SIGNER_BACKEND=aws_kms exclude each other; unset the local key");
  }
  if (e.VAULT_KMS_KEY_ID === e.VAULT_LEDGER_KMS_KEY_ID) {
    throw new ConfigError("Invalid configuration:\n  VAULT_LEDGER_KMS_KEY_ID: must be a different KMS key from VAULT_KMS_KEY_ID (tokens and ledger receipts never share a key)");
  }
  const ledgerKeyId = e.VAULT_LEDGER_KEY_ID ?? `${e.VAULT_KEY_ID}.ledger`;
  if (ledgerKeyId === e.VAULT_KEY_ID) throw new ConfigError("Invalid configuration:\n  VAULT_LEDGER_KEY_ID: must differ from VAULT_KEY_ID");
  return {
    backend: "aws_kms",
    keyId: e.VAULT_KEY_ID,
    kmsKeyId: e.VAULT_KMS_KEY_ID!,
    ledgerKeyId,
    ledgerKmsKeyId: e.VAULT_LEDGER_KMS_KEY_ID!,
    maxInFlight: e.VAULT_KMS_MAX_IN_FLIGHT,
    timeoutMs: e.VAULT_KMS_TIMEOUT_MS,
  };
}
