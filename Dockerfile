# Veil's image: the workers, `veil setup`, `veil kibana import` and the Ray workers that run its actors.
# Two stages: wheels are built with a compiler (llama-cpp-python from source: CPU, portable flags),
# the runtime image installs those wheels and holds no build tools.

FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake git \
    && rm -rf /var/lib/apt/lists/*
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_CURL=OFF" PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY veil veil
COPY streams streams
COPY models models
COPY schemas schemas
COPY training training
COPY ops ops
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
# libgomp: llama.cpp's OpenMP runtime (a shared library, not a compiler)
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
ENV OMP_WAIT_POLICY=PASSIVE PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    VEIL_MODELS__CACHE_DIR=/models VEIL_STATE_DIR=/state
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels veil && rm -rf /wheels \
    && useradd --create-home --uid 10001 veil \
    && mkdir -p /models /state && chown veil:veil /models /state
# Named volumes mounted here start with this ownership, so the veil user can write models and state.
VOLUME ["/models", "/state"]
USER veil
WORKDIR /home/veil
ENTRYPOINT ["veil"]
CMD ["run"]
