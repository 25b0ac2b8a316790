import type { FastifyInstance } from "fastify";
import { VERSION } from "../../version.js";
import { rootSchema } from "../openapi/schemas/health.js";
import { documented } from "../openapi/route-doc.js";

const root = { name: "Countersign", version: VERSION, links: { console: "/console", docs: "/docs", openapi: "/openapi.json" } } as const;

/** GET /: where to go from the vault's address, for people and for tools. */
export function rootRoutes(app: FastifyInstance) {
  app.get(
    "/",
    {
      config: documented({
        summary: "Links to the console, the API reference and the OpenAPI document",
        tags: ["service"],
        auth: "none",
        responses: { 200: { description: "The service's name, version and links.", schema: rootSchema, example: { ...root, version: "0.1.0" } } },
      }),
    },
    async () => root,
  );
}
