# The payments ops server (web, worker or both: PROCESS_ROLE) with the staff console, as compiled
# JavaScript on Node 20. docs/deploy.md says how to build and run it and what was tried on which machine.
#
#   podman build --format docker -t payments-ops .     (docker build -t payments-ops . works alike)
#
# --format docker keeps the HEALTHCHECK: the OCI image format has no field for it, and buildah and
# podman build OCI by default. NODE_IMAGE names the base: any Debian-based Node 20 (>= 20.19) image
# with npm; a machine without Docker Hub passes a local one (docs/deploy.md, "Building without
# Docker Hub").
ARG NODE_IMAGE=docker.io/library/node:20-bookworm-slim

# --- dependencies: the production ones only, installed from the lockfile -----------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# --- build: TypeScript to JavaScript (npm run build:server) and the console (Vite) --------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The console's Supabase sign-in is baked in at build time (vite.config.ts); both are public values.
# Unset: the console offers no Supabase form, and staff sign in with tokens.
ARG SUPABASE_URL
ARG SUPABASE_ANON_KEY
RUN npm run build:console && npm run build:server

# --- runtime: node, the production dependencies and dist/; no compiler, no sources, not root -----
# --enable-source-maps: stack traces name the TypeScript lines, for a little CPU at each stack capture
# (docs/deploy.md, "Without a container"); -e NODE_OPTIONS= turns it off.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    NODE_OPTIONS=--enable-source-maps
WORKDIR /app
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app \
 && mkdir -p /app/.data && chown app:app /app/.data
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# "type": "module" (the compiled files are ES modules) and the version; nothing here runs npm.
COPY package.json ./
USER app
EXPOSE 4000
# /healthz: the process is alive (web and worker roles alike); a balancer's readiness check is
# /readyz, which also asks the database and answers 503 while the process drains for shutdown.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 4000}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node as PID 1 receives SIGTERM itself: server/main.ts drains requests and jobs, then exits 0.
CMD ["node", "dist/server/main.js"]
