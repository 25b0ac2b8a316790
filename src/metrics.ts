import { Registry, collectDefaultMetrics } from "prom-client";

/** One registry per process, served at GET /metrics by the vault and by the judge service. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });
