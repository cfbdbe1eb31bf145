# syntax=docker/dockerfile:1
# The envfarm image: the controller (`envfarm controller run`), the CLI, and the env runtime that env pods
# copy in with an init container (/opt/envfarm/runtime.py). Build: docker build -t ghcr.io/envfarm/envfarm:0.1.0 .
ARG PYTHON_VERSION=3.11

# ---- build: the same install script CI and `make` run, into /opt/venv -----------------------------------
FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /app
ENV PYTHON=python3 VENV=/opt/venv EXTRAS=k8s,api,sandbox PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY scripts/install.sh scripts/install.sh
COPY envfarm envfarm
COPY tasks tasks
RUN bash scripts/install.sh \
    && find /opt/venv /app -name '__pycache__' -prune -exec rm -rf {} +

# ---- runtime: slim, non-root, read-only friendly -------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 envfarm \
    && useradd --uid 10001 --gid 10001 --home-dir /var/lib/envfarm --create-home --shell /usr/sbin/nologin envfarm
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
COPY envfarm/sandbox/runtime.py /opt/envfarm/runtime.py
ENV PATH=/opt/venv/bin:$PATH \
    ENVFARM_HOME=/var/lib/envfarm \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/envfarm
EXPOSE 9090 8000
ENTRYPOINT ["envfarm"]
CMD ["controller", "run"]
