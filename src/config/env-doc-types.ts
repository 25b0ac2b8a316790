import type { RawEnv } from "./env-schema.js";

/** The shape of the configuration reference: see env-docs.ts. */
export type EnvVarName = keyof RawEnv;

export interface EnvVarDoc {
  /** The default when it is not a constant of the schema: derived at start-up from another variable or the host. */
  derivedDefault?: string;
  /** Which processes read it, in sections where that differs from row to row. */
  readBy?: string;
  meaning: string;
}

export interface EnvDocSection {
  title: string;
  /** Markdown before the table. */
  intro: string;
  /** Markdown after the table. */
  outro?: string;
  /** Show the "Read by" column. */
  withReadBy?: boolean;
  variables: Partial<Record<EnvVarName, EnvVarDoc>>;
  /** A table of other named fields that belongs with this section (the tenant secret bundle), under its own heading. */
  fields?: { title: string; intro: string; fields: Record<string, string>; outro?: string };
  /** Read by the AWS SDK itself, not by env-schema.ts: documented here, validated by the SDK. */
  sdkVariables?: Record<string, EnvVarDoc>;
}
