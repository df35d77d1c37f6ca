# syntax=docker/dockerfile:1
# kube-local-lb image: docker build -t kube-local-lb:0.1.0 .
# It holds the single executable the .deb installs (npm run package), at the same path,
# /usr/bin/kube-local-lb, so `crictl exec <container> kube-local-lb status` works. The static pod
# (static-pod/kube-local-lb.yaml) runs it as uid 65532 with a read-only root filesystem
# (kube-local-lb-cluster-ip.yaml: as root with NET_ADMIN and NET_BIND_SERVICE only); it writes
# nothing but its logs to stdout.

# Build: Node.js 24 (the executable's runtime), the dev dependencies, strip.
FROM node:24-bookworm-slim AS build
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends binutils >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY src ./src
COPY packaging ./packaging
# The executable only: the .deb is built by npm run package outside the image.
RUN npm run build && node packaging/package.mjs --executable-only

# Runtime: glibc and libstdc++ (what the Node.js binary links), the executable, and ip and nft
# (what --cluster-ip holds the ClusterIP and loads its nftables table with); nothing else.
FROM debian:bookworm-slim
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends ca-certificates iproute2 nftables >/dev/null \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/dist-bin/kube-local-lb /usr/bin/kube-local-lb
# The same uid as the static pod's securityContext: no home, no shell needed.
USER 65532:65532
# Nothing to EXPOSE: with hostNetwork the proxy binds the node's 127.0.0.1:6444 and the admin
# endpoint 127.0.0.1:9445, both set in the config file.
ENTRYPOINT ["/usr/bin/kube-local-lb"]
CMD ["run", "--config", "/etc/kube-local-lb/config.yaml"]
