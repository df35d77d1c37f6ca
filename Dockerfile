# syntax=docker/dockerfile:1
# kube-local-lb image: docker build -t kube-local-lb:0.1.0 .
# The static pod (static-pod/kube-local-lb.yaml) runs it as uid 65532 with a read-only root
# filesystem (kube-local-lb-cluster-ip.yaml: as root with NET_ADMIN and NET_BIND_SERVICE only);
# it writes nothing but its logs to stdout.

# Build: the TypeScript compiler and the other dev dependencies stay in this stage.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY src ./src
RUN npm run build \
 && npm ci --omit=dev --no-audit --no-fund

# Runtime: node and the production dependencies, nothing else from the build.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
# ip and nft: what --cluster-ip holds the ClusterIP and loads its nftables table with.
RUN apt-get update && apt-get install -y --no-install-recommends iproute2 nftables && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/kube-local-lb
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# The same uid as the static pod's securityContext: no home, no shell needed.
USER 65532:65532
# Nothing to EXPOSE: with hostNetwork the proxy binds the node's 127.0.0.1:6443 and the admin
# endpoint 127.0.0.1:9445, both set in the config file.
ENTRYPOINT ["node", "dist/main.js"]
CMD ["run", "--config", "/etc/kube-local-lb/config.yaml"]
