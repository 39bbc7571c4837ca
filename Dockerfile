# ragline service image: the same set-up script as a developer machine (Debian 12, Python 3.11).
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends make git build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ragline
COPY . .
RUN scripts/setup.sh && rm -rf /root/.cache/pip
ENV RAGLINE_DATA_DIR=/data \
    RAGLINE_SERVER__HOST=0.0.0.0 \
    RAGLINE_SERVER__PORT=8080 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DO_NOT_TRACK=1 ANONYMIZED_TELEMETRY=False
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD [".venv/bin/ragline", "serve"]
