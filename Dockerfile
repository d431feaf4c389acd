# syntax=docker/dockerfile:1
# Scoring service image. CUDA runtime + cuDNN 9 match the CUDA 12 build of onnxruntime-gpu;
# on a host without a GPU the same image runs on ONNX Runtime's CPU provider.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.12 python3.12-venv curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3.12 -m venv /opt/venv

WORKDIR /app
COPY pyproject.toml README.md ./
COPY canonical ./canonical
COPY synth ./synth
COPY features ./features
COPY graph ./graph
COPY models ./models
COPY training ./training
COPY serving ./serving
COPY targeting ./targeting
# The serving group only: no torch, ONNX export or plotting (serving never imports them).
# Dask workers of `--dask` (docs/scale-out.md): --build-arg EXTRAS=serving,scale
ARG EXTRAS=serving
RUN pip install --no-compile ".[${EXTRAS}]"

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin targeting \
    && mkdir -p /data /app/mlruns && chown -R targeting:targeting /data /app/mlruns
USER 10001:10001
ENV TARGETING_DATA_DIR=/data \
    TARGETING_MLRUNS_DIR=/app/mlruns

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:8000/healthz"]

ENTRYPOINT ["targeting", "serve"]
CMD ["--host", "0.0.0.0", "--port", "8000"]
