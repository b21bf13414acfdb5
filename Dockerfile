# Flow Cache image: a static flowcache binary on distroless, as a non-root user.
#
#   docker build --build-arg VERSION="$(git describe --tags --always)" -t flowcache .
#   docker run --rm -p 8080:8080 -e FLOWCACHE_ROUTES_0_UPSTREAMS=http://api.internal:8080 flowcache
#   docker run --rm -p 8080:8080 -v "$PWD/my-config.toml:/etc/flowcache/config.toml:ro" flowcache
#
# The image carries the repository's config.toml with both listeners moved to
# 0.0.0.0 and data_dir set to /var/lib/flowcache (writable by the image's
# user); its route points at 127.0.0.1:9000, which inside a container is
# the container itself: set FLOWCACHE_ROUTES_0_UPSTREAMS (every key can be
# set from the environment, see the README) or mount your own config. The
# admin listener answers loopback clients only until an admin token is set
# (FLOWCACHE_ADMIN_TOKEN or FLOWCACHE_ADMIN_TOKEN_FILE). HEALTHCHECK runs
# `flowcache healthcheck` (GET /readyz on the admin port): the image has no
# shell or curl.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
        -o /out/flowcache ./cmd/flowcache \
    && mkdir -p /out/etc /out/data \
    && sed -e 's/^listen = "127.0.0.1:8080"/listen = "0.0.0.0:8080"/' \
           -e 's/^listen = "127.0.0.1:9090"/listen = "0.0.0.0:9090"/' \
           -e 's|^data_dir = ""|data_dir = "/var/lib/flowcache"|' \
           config.toml > /out/etc/config.toml \
    && grep -q '^listen = "0.0.0.0:8080"' /out/etc/config.toml \
    && grep -q '^listen = "0.0.0.0:9090"' /out/etc/config.toml \
    && grep -q '^data_dir = "/var/lib/flowcache"' /out/etc/config.toml \
    && /out/flowcache check -config /out/etc/config.toml

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/flowcache /usr/local/bin/flowcache
COPY --from=build /out/etc/config.toml /etc/flowcache/config.toml
COPY --from=build --chown=65532:65532 /out/data /var/lib/flowcache
USER nonroot:nonroot
VOLUME /var/lib/flowcache
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/flowcache", "healthcheck", "-timeout", "3s"]
ENTRYPOINT ["/usr/local/bin/flowcache"]
CMD ["serve", "-config", "/etc/flowcache/config.toml"]
