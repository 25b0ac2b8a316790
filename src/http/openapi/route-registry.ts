import type { FastifyInstance } from "fastify";

export interface RegisteredRoute {
  method: string;
  url: string;
  documented: boolean;
  hidden: boolean;
}

const registries = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/**
 * Records every route the app registers, from now on, with whether it carries a RouteDoc. The OpenAPI
 * test compares this list with the document, so a route added without `documented(...)` is caught.
 */
export function trackRoutes(app: FastifyInstance): void {
  const routes: RegisteredRoute[] = [];
  registries.set(app, routes);
  app.addHook("onRoute", (route) => {
    const doc = route.config?.openapi;
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, documented: doc !== undefined, hidden: doc?.hidden === true });
  });
}

export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  const routes = registries.get(app);
  if (!routes) throw new Error("trackRoutes(app) was not called before the routes were registered");
  return routes;
}
