# One image with the `presage` CLI and the five service binaries. docker-compose.yml builds it
# once (as presage:local, on its `setup` service) and every container runs it; the Kubernetes
# manifests in deploy/kubernetes run the same image.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake libssl-dev zlib1g-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Only the binaries the image runs (not the fuzzers, benches or the chaos suite). The cache
# mounts keep crates and build output between builds; the binaries are copied out of them.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
      -p presage-cli -p presage-collector -p presage-recipe-processor \
      -p presage-forecaster -p presage-planner -p presage-applier \
 && mkdir -p /out \
 && cp target/release/presage target/release/presage-collector \
      target/release/presage-recipe-processor target/release/presage-forecaster \
      target/release/presage-planner target/release/presage-applier /out/

FROM debian:bookworm-slim
# No HTTP client: the compose healthcheck (readyz) speaks HTTP through bash's /dev/tcp.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g procps && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
COPY deploy/docker/readyz /usr/local/bin/readyz
WORKDIR /app
COPY templates /app/templates
COPY pipelines /app/pipelines
# The demo workload's trace (deploy/demo/README.md), so the demo needs no mount.
COPY deploy/demo /app/deploy/demo
# Every service's /metrics, /healthz and /readyz when PRESAGE_METRICS_LISTEN asks for them.
EXPOSE 9464
CMD ["presage", "--help"]
