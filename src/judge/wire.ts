import { z } from "zod";
import { agentIdentitySchema } from "../tenancy/agent-identity.js";
import type { JudgeInput } from "./judge.js";

const jsonObject = z.record(z.string(), z.unknown());
/** A tenant id as the judge takes it on every route; an unknown one is 404 when its database is opened. */
const tenantId = z.string().min(1).max(200);

/** POST /evaluate body of `countersign judge` (snake_case, like every Countersign API). */
export const evaluateBodySchema = z.object({
  tenant_id: tenantId,
  request_id: z.string().min(1).max(200),
  tool: z.string().min(1).max(200),
  args: jsonObject,
  context: jsonObject,
  agent_id: z.string().max(1000),
  session_id: z.string().max(1000),
  human_principal: z.string().max(1000).nullable(),
  /** The verified Sigilum signer; absent (an older vault) or null means unsigned. */
  agent: agentIdentitySchema.nullish(),
});

/** POST /embed body. `tenant_id`: embed with that tenant's own key (its bundle's `embedding_api_key`). */
export const embedBodySchema = z.object({
  tenant_id: tenantId.optional(),
  texts: z
    .array(
      z
        .string()
        .max(100_000)
        .refine((t) => t.trim() !== "", "a text must not be empty"),
    )
    .min(1)
    .max(2048),
});

export function toWireInput(input: JudgeInput): z.infer<typeof evaluateBodySchema> {
  return {
    tenant_id: input.tenantId,
    request_id: input.requestId,
    tool: input.tool,
    args: input.args,
    context: input.context,
    agent_id: input.agentId,
    session_id: input.sessionId,
    human_principal: input.humanPrincipal,
    agent: input.agent ?? null,
  };
}

export function fromWireInput(body: z.infer<typeof evaluateBodySchema>): JudgeInput {
  return {
    tenantId: body.tenant_id,
    requestId: body.request_id,
    tool: body.tool,
    args: body.args,
    context: body.context,
    agentId: body.agent_id,
    sessionId: body.session_id,
    humanPrincipal: body.human_principal,
    agent: body.agent ?? null,
  };
}
