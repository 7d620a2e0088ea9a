# Coffee Rounds runtime image. Build: docker build -t coffee-rounds .
# Run:   docker run -p 3000:3000 -v coffee-data:/data -e BASE_URL=https://coffee.hospital.example coffee-rounds
# BASE_URL (the address people open, used in emailed links) is required: BIND is 0.0.0.0:3000 here,
# and serve refuses to mail links to that. Add -e LOG_FORMAT=json for a log collector.
# Built and run on the development machine with a local engine and stand-in base images (README, Docker).

FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, in their own layer: rebuilt only when Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src target/release/deps/coffee_rounds* target/release/.fingerprint/coffee-rounds-*
COPY src src
COPY migrations migrations
COPY templates templates
COPY static static
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data coffee \
    && mkdir -p /data /app && chown coffee /data
COPY --from=build /src/target/release/coffee-rounds /usr/local/bin/coffee-rounds
COPY static /app/static
USER coffee
WORKDIR /data
ENV BIND=0.0.0.0:3000 \
    STATIC_DIR=/app/static \
    DATABASE_URL=sqlite:///data/coffee-rounds.db \
    MAIL_DIR=/data/mail-out
EXPOSE 3000
# Probes the address serve listens on, from BIND (0.0.0.0 and [::] are reached through loopback),
# so a container run with another BIND is not reported unhealthy.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s CMD \
    port="${BIND##*:}"; host="${BIND%:*}"; \
    case "$host" in 0.0.0.0) host=127.0.0.1 ;; "[::]") host="[::1]" ;; esac; \
    curl -fsSg "http://$host:$port/healthz" || exit 1
ENTRYPOINT ["coffee-rounds"]
CMD ["serve"]
