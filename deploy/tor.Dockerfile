# syntax=docker/dockerfile:1.7
#
# lucid-tor: Debian's tor as a SOCKS client for the mesh, non-root, configured by deploy/torrc.
#   docker buildx build -f deploy/tor.Dockerfile --platform linux/arm64,linux/amd64 -t REGISTRY/lucid-tor:0.1.0 deploy
# Context is deploy/; tor.Dockerfile.dockerignore admits only torrc and tor-healthcheck.
# Not distroless: tor's shared libraries come from Debian's packages, and the health check needs bash (see
# tor-healthcheck). Nothing else is installed: no curl, no torsocks, no obfs4proxy.
ARG DEBIAN_IMAGE=debian:13-slim
FROM ${DEBIAN_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="lucid-tor" \
      org.opencontainers.image.description="Tor client (SOCKS + control port, no relay, no exit) for lucid-tron" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="debian:13-slim"
# Debian's tor with its security updates: not pinned to a version (pin the base by digest instead).
# A fixed uid/gid, so volume ownership and secret-file modes do not depend on the order Debian creates users in.
# hadolint ignore=DL3008
RUN groupadd --system --gid 10050 lucid-tor \
    && useradd --system --uid 10050 --gid 10050 --home-dir /var/lib/tor --no-create-home --shell /usr/sbin/nologin lucid-tor \
    && apt-get update \
    && apt-get install -y --no-install-recommends tor \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o lucid-tor -g lucid-tor -m 0700 /var/lib/tor-data \
    && rm -rf /var/lib/tor && mv /var/lib/tor-data /var/lib/tor
COPY --chmod=0644 torrc /etc/tor/torrc
COPY --chmod=0755 tor-healthcheck /usr/local/bin/tor-healthcheck
USER 10050:10050
EXPOSE 9050 9051
# Compose stores /var/lib/tor in a volume (guards survive restarts); k3s uses an emptyDir.
VOLUME /var/lib/tor
ENTRYPOINT ["/usr/bin/tor", "-f", "/etc/tor/torrc"]
