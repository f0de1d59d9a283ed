# syntax=docker/dockerfile:1
# Sentiric: one image for every process (`sentiric edge`, `sentiric worker`, `sentiric api`, ...).
# In a container the log and the database are external services (see redpanda-compose.yml), so the
# image carries no Java and starts no embedded Kafka: set SENTIRIC_KAFKA_BOOTSTRAP and SENTIRIC_DATABASE_URL.
#
#   docker build -t sentiric .
#   docker run --rm sentiric config

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SENTIRIC_ENV=production \
    SENTIRIC_HOME=/var/lib/sentiric \
    SENTIRIC_SIP_HOST=0.0.0.0 \
    SENTIRIC_RTP_HOST=0.0.0.0 \
    SENTIRIC_API_HOST=0.0.0.0
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels sentiric \
 && useradd --system --uid 10001 --home-dir /var/lib/sentiric --create-home --shell /usr/sbin/nologin sentiric
USER sentiric
WORKDIR /var/lib/sentiric
# SIP (UDP and TCP), REST API, WebSocket stream gateway, gRPC MediaService. RTP ports: see the compose file.
EXPOSE 5060/udp 5060/tcp 8080/tcp 8081/tcp 50051/tcp
ENTRYPOINT ["sentiric"]
CMD ["--help"]
