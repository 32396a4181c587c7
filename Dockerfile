# chainfix container image.
#
#   docker build -t chainfix .
#   docker run -d --name chainfix -p 443:8443 \
#       -v /srv/chainfix:/etc/chainfix:ro --stop-timeout 40 chainfix
#
# The image runs as the unprivileged user chainfix (uid 10001) and never as
# root, so inside the container sites listen on a port above 1023 (8443 in
# the README's examples) and Docker maps 443 onto it.  Configuration and
# certificates live in /etc/chainfix, mounted from the host.

# --- build: compilers and -dev packages, thrown away afterwards -----------
FROM debian:12-slim AS build

RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config \
        libssl-dev libevent-dev libinih-dev libsystemd-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . /src
# No tests here: they run in CI (.ci/run), not in an image build.
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX=/usr -DCHAINFIX_TESTS=OFF \
    && cmake --build /build -j"$(nproc)" \
    && strip /build/chainfix \
    && /build/chainfix --version

# --- runtime: the binary and the shared libraries it links, nothing else --
FROM debian:12-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libssl3 libevent-2.1-7 libevent-openssl-2.1-7 \
        libevent-pthreads-2.1-7 libinih1 libsystemd0 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 chainfix \
    && useradd --system --uid 10001 --gid chainfix \
        --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin chainfix \
    && mkdir -p /etc/chainfix /usr/share/chainfix

COPY --from=build /build/chainfix /usr/bin/chainfix
COPY conf/chainfix.conf /usr/share/chainfix/chainfix.conf.example
# The public intermediates and Android root stores (data/PROVENANCE.md), where
# the binary looks for them: /usr/share/chainfix beside /usr/bin/chainfix.
COPY data/ /usr/share/chainfix/
COPY docker/entrypoint.sh /usr/bin/chainfix-entrypoint

# Numeric, so `runAsNonRoot` checks (Kubernetes) can see it is not root.
USER 10001:10001

VOLUME ["/etc/chainfix"]
EXPOSE 8443 8441

# SIGTERM starts the drain (shutdown_timeout, 30 s by default): give the
# container that long before the engine kills it (--stop-timeout 40).
STOPSIGNAL SIGTERM

# The admin endpoint's /healthz (503 while draining), fetched with bash's
# /dev/tcp: no curl or wget in the image.  CHAINFIX_HEALTH names the
# admin_listen address when it is not 127.0.0.1:8441.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/bin/chainfix-entrypoint", "healthcheck"]

ENTRYPOINT ["/usr/bin/chainfix-entrypoint"]
CMD ["run"]
