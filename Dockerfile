# The iDesign WhatsApp CRM as a container image: `wacrm serve`, `wacrm worker`, `wacrm migrate`.
#   podman build -t wacrm .          (or docker build)
#   podman build --build-arg BASE=localhost/debian-python:bookworm \
#       --build-arg PIP_OPTIONS="--no-index --find-links /src/wheels" -t wacrm .
# BASE: any Debian-like image with Python 3.11+ and its venv module. PIP_OPTIONS: where pip finds
# packages (a `wheels/` folder in the build context when the build cannot reach the index).
# deploy/compose.yaml runs it with PostgreSQL and Caddy; docs/going-live.md explains.
ARG BASE=python:3.12-slim
FROM ${BASE}

ARG PIP_OPTIONS=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/wacrm/bin:$PATH \
    WACRM_DATA_DIR=/var/lib/wacrm \
    WACRM_HOST=0.0.0.0 \
    WACRM_PORT=8000 \
    WACRM_LOG_FORMAT=json

RUN groupadd --system --gid 10001 wacrm \
 && useradd --system --uid 10001 --gid wacrm --home-dir /var/lib/wacrm --shell /usr/sbin/nologin wacrm \
 && mkdir -p /var/lib/wacrm \
 && chown wacrm:wacrm /var/lib/wacrm

COPY . /src
RUN python3 -m venv /opt/wacrm \
 && /opt/wacrm/bin/pip install --no-cache-dir --disable-pip-version-check ${PIP_OPTIONS} /src \
 && rm -rf /src

USER wacrm
WORKDIR /var/lib/wacrm
VOLUME ["/var/lib/wacrm"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('WACRM_PORT', '8000')}/readyz\", timeout=4)"]
CMD ["wacrm", "serve"]
