# Countersign vault image. Build: docker build -t countersign .   Run: see docker-compose.yml.

# ---- build: compile TypeScript with the full (dev) dependency set ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` builds, and src is not copied yet; the build runs once, below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies, compiled code and SQL migrations only ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would run tsc, which --omit=dev does not install; dist comes from the build stage.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Read at run time from <package root>/migrations (dist/db/migrate.js resolves ../../migrations).
COPY migrations ./migrations
# The reviewer console's static files, read at start-up from <package root>/console.
COPY console ./console

# /data holds the generated signing key (keys/<kid>.pem) and, without DATABASE_URL, the
# embedded PGlite databases. It must be writable by the non-root user.
ENV VAULT_DATA_DIR=/data \
    VAULT_HOST=0.0.0.0 \
    VAULT_PORT=8000
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]

USER node
EXPOSE 8000

# The slim image has no curl; Node 20's built-in fetch does the probe.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.VAULT_PORT || '8000') + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["node", "dist/main/cli.js"]
CMD ["serve"]
