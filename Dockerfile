# syntax=docker/dockerfile:1
# econnect-bridge container image.
#
#   docker build -t econnect-bridge .
#   docker run -v "$PWD/config:/config" econnect-bridge       # reads /config/config.yaml
#
# Two stages: the first builds wheels (with pip and a compiler cache we do not ship), the second
# installs only those wheels into a clean Python and runs as an unprivileged user. The
# configuration (config.yaml, secrets.yaml, CA files) is mounted at /config; nothing is written
# inside the image. See docs/docker.md. Checked by tests/unit/test_packaging.py.

ARG PYTHON_VERSION=3.13

FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY bridge ./bridge
COPY core ./core
# The base install brings Pillow, which publish.annotated_snapshot needs.
RUN pip wheel --wheel-dir /wheels "."

FROM python:${PYTHON_VERSION}-slim AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels "econnect-bridge" \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin econnect
LABEL org.opencontainers.image.title="econnect-bridge" \
      org.opencontainers.image.description="MQTT camera snapshots to eConnect Identities face recognition, for Home Assistant and Node-RED" \
      org.opencontainers.image.licenses="MIT"
WORKDIR /config
VOLUME ["/config"]
USER 10001:10001
# The health endpoint (turn it on in config.yaml: health: {enabled: true}); the probe reads
# its port from the configuration and reports healthy with a note when it is turned off.
EXPOSE 8099
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "econnect_bridge.health", "-c", "/config/config.yaml"]
# SIGTERM lets in-flight recognitions finish and publishes `offline` (docker stop waits 10 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["econnect-bridge"]
CMD ["run", "-c", "/config/config.yaml"]
