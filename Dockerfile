# ragline service image: the same set-up script as a developer machine (Debian 12, Python 3.11).
# The service runs as the unprivileged user `ragline` (uid 10001); it writes only to /data.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends make git build-essential cmake \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/ragline \
       --shell /usr/sbin/nologin ragline
WORKDIR /opt/ragline
COPY . .
RUN scripts/setup.sh && rm -rf /root/.cache/pip
# Before VOLUME: a new named volume starts with this owner.
RUN mkdir -p /data && chown ragline:ragline /data && chmod 0750 /data
ENV RAGLINE_DATA_DIR=/data \
    RAGLINE_SERVER__HOST=0.0.0.0 \
    RAGLINE_SERVER__PORT=8080 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DO_NOT_TRACK=1 ANONYMIZED_TELEMETRY=False
VOLUME /data
EXPOSE 8080
USER ragline:ragline
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD [".venv/bin/ragline", "serve"]
