# tapwire in a container: built from this repository (better-sqlite3 compiled against the
# image's own Node headers, nothing downloaded at run time). The default command is the
# demo docker-compose.yml runs; `docker run tapwire:local run --config ...` runs the sidecar.
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

FROM node:20.19-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/policies/examples ./policies/examples
# The database directory: writable by any user id, so compose can run tapwire as Grafana's.
RUN mkdir /data && chmod 1777 /data
USER node
EXPOSE 4100
ENTRYPOINT ["node", "/app/dist/cli/cli.js"]
CMD ["demo", "--forever", "--listen", "0.0.0.0:4100", "--db", "/data/tapwire.db"]
