# One image with every Presage binary; docker-compose.yml runs each service from it.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake libssl-dev zlib1g-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --workspace --bins

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g procps && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/presage /src/target/release/presage-* /usr/local/bin/
WORKDIR /app
COPY templates /app/templates
COPY pipelines /app/pipelines
