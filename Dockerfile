# Stride as a container image: `docker build -t stride .`
# The image runs `stride serve` against an external PostgreSQL (DATABASE_URL
# and STRIDE_APP_DATABASE_URL); compose.yaml next to this file wires one up.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so that a source change does not rebuild them.
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
COPY benches benches
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked --bin stride \
    && rm -rf src
COPY src src
COPY migrations migrations
# touch: cargo must not take the placeholder build for the real sources.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin stride

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/stride --create-home stride
COPY --from=build /src/target/release/stride /usr/local/bin/stride
USER stride
# Listen beyond loopback inside the container; publish the ports you need.
ENV STRIDE_LISTEN=0.0.0.0:50051 \
    STRIDE_METRICS_LISTEN=0.0.0.0:9464 \
    STRIDE_LOG_FORMAT=json
EXPOSE 50051 9464
ENTRYPOINT ["stride"]
CMD ["serve"]
