# syntax=docker/dockerfile:1
# Multi-stage build of the recommendation service. (Docker cannot run on the development machines of
# this project: this file is kept correct by reading; see README "Docker".)

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# `npm install` builds the WebAssembly kernels (the package's prepare script) from their AssemblyScript source
COPY scripts/build-wasm.mjs ./scripts/
COPY src/wasm/assembly ./src/wasm/assembly
RUN npm install --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
COPY test ./test
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    MODEL_DIR=/app/models \
    PGLITE_DIR=/app/.data/pglite \
    CACHE_DIR=/app/.data/cache
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/build-wasm.mjs ./scripts/
COPY src/wasm/assembly ./src/wasm/assembly
# production dependencies only; @tensorflow/tfjs-node stays optional (wasm backend otherwise); builds dist/wasm
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# SQL migrations are read at run time (tsc does not copy .sql files into dist/)
COPY src/store/migrations ./src/store/migrations
# the console's static files (HTML, one ES module, CSS) are served from the source tree too
COPY src/console ./src/console
RUN mkdir -p /app/models /app/.data && chown -R node:node /app/models /app/.data
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/server.js"]
