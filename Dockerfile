# syntax=docker/dockerfile:1
# parjarm: a static binary on distroless, running as a non-root user.
# Build: docker build -t parjarm .   (the same build CI runs: CGO_ENABLED=0)

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/parjarm ./cmd/parjarm

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/parjarm /usr/local/bin/parjarm
USER nonroot:nonroot
# Public listener and admin listener (healthz, readyz, metrics).
ENV PARJARM_LISTEN_ADDR=:8080 \
    PARJARM_ADMIN_ADDR=:9090
EXPOSE 8080 9090
# No shell in the image: the binary probes its own admin listener.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/parjarm", "health"]
ENTRYPOINT ["/usr/local/bin/parjarm"]
