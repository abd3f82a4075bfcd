# tapwire in a container: built from this repository (better-sqlite3 compiled against the
# image's own Node headers, nothing downloaded at run time). The default image is the sidecar,
# production dependencies only: `docker run tapwire:local run --config ...`. The `demo` target
# adds the demo's own packages (optional peers of tapwire) and runs `tapwire demo`, as
# docker-compose.yml builds it.
FROM node:20.19-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# node-gyp uses the headers shipped in the image instead of downloading them.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json .prebuild-installrc ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY . .
RUN npm run build && npm prune --omit=dev

# The demo's packages (package.json peerDependencies) at the lockfile's versions, in a tree of
# their own: the demo image puts it in /node_modules, where Node looks after /app/node_modules.
FROM build AS demo-peers
WORKDIR /peers
RUN node -e "const p = require('/app/package.json'); require('fs').writeFileSync('package.json', JSON.stringify({ private: true, dependencies: p.peerDependencies }))" \
 && cp /app/package-lock.json . \
 && npm install --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20.19-bookworm-slim AS sidecar
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/bundle ./dist/bundle
COPY --from=build /app/policies/examples ./policies/examples
# The database directory: writable by any user id, so compose can run tapwire as Grafana's.
RUN mkdir /data && chmod 1777 /data
USER node
EXPOSE 4100
ENTRYPOINT ["node", "/app/dist/bundle/cli.js"]
CMD ["run", "--config", "/etc/tapwire/tapwire.yaml"]

FROM sidecar AS demo
COPY --from=demo-peers /peers/node_modules /node_modules
CMD ["demo", "--forever", "--listen", "0.0.0.0:4100", "--db", "/data/tapwire.db"]

# The default target, last: the sidecar alone.
FROM sidecar
