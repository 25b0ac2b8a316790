import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { SESSION_COOKIE } from "../../tenancy/console-sessions.js";
import { VERSION } from "../../version.js";
import { API_KEY_SCHEME, operationOf, SESSION_SCHEME } from "./operation.js";
import { API_OVERVIEW } from "./overview.js";
import { problemDetailsSchema } from "./problems.js";
import { documented } from "./route-doc.js";
import { trackRoutes } from "./route-registry.js";

/** Tags in reading order, with what they cover; a tag not listed here follows them, alphabetically. */
const TAGS: Record<string, string> = {
  service: "Liveness, readiness, metrics and this document.",
  clearance: "Decisions on agents' tool calls (Ledgix wire protocol §2.1-2.2).",
  tokens: "A-JWTs: re-issue, burn, and the public keys that verify them.",
  reviews: "Human review of requests the policies sent to a person.",
  grants: "Scoped grants: an approval widened to later matching requests for a session or a window, listed and revoked (docs/grants.md).",
  passkeys: "Reviewers' passkeys (WebAuthn): enrolment, removal, and approvals signed over a commitment to the exact action (docs/passkeys.md).",
  reviewers: "The people who review.",
  console: "The reviewer console and its session.",
  notifications: "Outbound webhooks, review notification channels and the outbox of deliveries.",
  policies: "Policy documents, versions and settings.",
  keys: "The tenant's API keys.",
  ledger: "The tamper-evident ledger: entries, checkpoints and proofs (protocol §2.7-2.11; C2SP tlog).",
  stepauth: "Countersign as a StepAuth authorizer (hub): the SP endpoints under /stepauth/{tenant}/v1 (signed envelopes, no API key), and their administration.",
  "agent identity": "Agents' own keys (Sigilum profile of RFC 9421): namespaces, protected services, claims and their review, /v1/verify (docs/agent-identity.md).",
};
const TAG_ORDER = Object.keys(TAGS);
const OPERATION = "x-countersign-operation";
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/**
 * The OpenAPI 3.1 document, built by @fastify/swagger from the routes' `config.openapi` (RouteDoc):
 * `transform` turns each RouteDoc into a finished operation (zod → JSON Schema 2020-12), carried
 * through swagger as an extension, and `transformObject` puts it in place of swagger's own. Routes
 * without a RouteDoc, or hidden ones, are left out. Nothing here touches request handling: the zod
 * schemas sit in `config`, so Fastify never compiles them as validators, and handlers parse as before.
 * Call before any route is registered: swagger and the route registry see only later routes.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  trackRoutes(app);
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: { title: "Countersign vault API", version: VERSION, description: API_OVERVIEW, license: { name: "Apache-2.0", identifier: "Apache-2.0" } },
      components: {
        securitySchemes: {
          [API_KEY_SCHEME]: { type: "apiKey", in: "header", name: "X-Vault-API-Key", description: "A tenant API key; its scope (agent, reviewer, admin) decides what it may call." },
          [SESSION_SCHEME]: {
            type: "apiKey",
            in: "cookie",
            name: SESSION_COOKIE,
            description: "The reviewer console's session (POST /console/session). Requests that change state also need `X-Countersign-Console: 1`.",
          },
        },
        schemas: { ProblemDetails: problemDetailsSchema },
      },
    },
    transform: ({ schema, url, route }) => {
      const doc = route.config?.openapi;
      if (!doc || doc.hidden) return { schema: { ...schema, hide: true }, url };
      const path = url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
      const method = [route.method].flat()[0]!;
      return { schema: { hide: false, [OPERATION]: operationOf(method, path, doc) } as never, url };
    },
    transformObject: (document) => finishDocument("openapiObject" in document ? (document.openapiObject as Record<string, unknown>) : {}),
  });

  // Public and cached: swagger builds the document once, on first use, after every route is registered.
  app.get(
    "/openapi.json",
    {
      config: documented({
        summary: "This API's OpenAPI 3.1 document",
        tags: ["service"],
        auth: "none",
        responses: {
          200: {
            description: "The OpenAPI document (this one).",
            schema: z.looseObject({ openapi: z.literal("3.1.0"), info: z.looseObject({ title: z.string(), version: z.string() }), paths: z.record(z.string(), z.unknown()) }),
            example: { openapi: "3.1.0", info: { title: "Countersign vault API", version: "0.1.0" }, paths: {} },
          },
        },
      }),
    },
    async () => app.swagger(),
  );

  await app.register(swaggerUi, {
    routePrefix: "/docs",
    // The page's own CSP, as strict as the console's: swagger-ui-dist is served from the package
    // (script-src 'self'); swagger-ui draws its icons from data: URLs and sets styles from script.
    staticCSP:
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
      "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    // No call to the public validator service (a third-party origin): swagger-ui's default, kept explicit.
    validatorUrl: false,
    // BaseLayout: no top bar, whose URL box would load other documents and whose logo is an SVG with
    // an inline <style> that the CSP refuses.
    uiConfig: { layout: "BaseLayout", deepLinking: true, docExpansion: "list", defaultModelsExpandDepth: 0 },
    theme: { title: "Countersign vault API" },
  });
}

function tagRank(tag: string): number {
  const i = TAG_ORDER.indexOf(tag);
  return i === -1 ? TAG_ORDER.length : i;
}

/** swagger's document with our operations in place, paths sorted, and the tags listed in order. */
function finishDocument(openapi: Record<string, unknown>): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const tags = new Set<string>();
  const source = (openapi.paths ?? {}) as Record<string, Record<string, Record<string, unknown>>>;
  for (const url of Object.keys(source).sort()) {
    const item: Record<string, unknown> = {};
    for (const method of METHODS) {
      const operation = source[url]![method]?.[OPERATION] as Record<string, unknown> | undefined;
      if (!operation) continue;
      item[method] = operation;
      for (const tag of operation.tags as string[]) tags.add(tag);
    }
    if (Object.keys(item).length > 0) paths[url] = item;
  }
  const sortedTags = [...tags].sort((a, b) => tagRank(a) - tagRank(b) || a.localeCompare(b));
  return { ...openapi, tags: sortedTags.map((name) => (TAGS[name] ? { name, description: TAGS[name] } : { name })), paths };
}
