# Flow Cache image: a static flowcache binary on distroless, as a non-root user.
#
#   docker build --build-arg VERSION="$(git describe --tags --always)" -t flowcache .
#   docker run --rm -p 8080:8080 -v "$PWD/my-config.toml:/etc/flowcache/config.toml:ro" flowcache
#
# The image carries the repository's config.toml with both listeners moved to
# 0.0.0.0; its route points at 127.0.0.1:9000, which inside a container is
# the container itself, so mount a config whose upstreams are your services.
# The admin listener answers loopback clients only until [admin] token is set.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
        -o /out/flowcache ./cmd/flowcache \
    && mkdir -p /out/etc \
    && sed -e 's/^listen = "127.0.0.1:8080"/listen = "0.0.0.0:8080"/' \
           -e 's/^listen = "127.0.0.1:9090"/listen = "0.0.0.0:9090"/' \
           config.toml > /out/etc/config.toml \
    && grep -q '^listen = "0.0.0.0:8080"' /out/etc/config.toml \
    && grep -q '^listen = "0.0.0.0:9090"' /out/etc/config.toml \
    && /out/flowcache check -config /out/etc/config.toml

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/flowcache /usr/local/bin/flowcache
COPY --from=build /out/etc/config.toml /etc/flowcache/config.toml
USER nonroot:nonroot
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/flowcache"]
CMD ["serve", "-config", "/etc/flowcache/config.toml"]
