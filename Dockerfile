# dxdesk: one image with the API and the embedded web front end.
# Build:  docker build -t dxdesk .
# Run:    see docker-compose.yml (PostgreSQL + the app).

FROM node:20-bookworm-slim AS frontend
WORKDIR /src
COPY schema/ schema/
COPY frontend/package.json frontend/package-lock.json frontend/
RUN cd frontend && npm ci --no-audit --no-fund
COPY frontend/ frontend/
RUN cd frontend && npm run build

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY .cargo/ .cargo/
COPY src/ src/
COPY migrations/ migrations/
COPY data/ data/
COPY --from=frontend /src/frontend/dist frontend/dist
RUN cargo build --release --locked --bin dxdesk

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 dxdesk
COPY --from=build /src/target/release/dxdesk /usr/local/bin/dxdesk
USER dxdesk
ENV DXDESK_BIND=0.0.0.0:8080 DXDESK_ENV=production DXDESK_LOG_FORMAT=json
EXPOSE 8080
# The binary probes itself: the slim image has no curl, and its /bin/sh (dash)
# has no /dev/tcp.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s CMD ["dxdesk", "healthcheck"]
ENTRYPOINT ["dxdesk"]
CMD ["serve"]
