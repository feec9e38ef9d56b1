# Veil worker / setup image. llama-cpp-python builds from source here (CPU, portable flags).
FROM python:3.11-slim AS base
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake git \
    && rm -rf /var/lib/apt/lists/*
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_CURL=OFF" OMP_WAIT_POLICY=PASSIVE PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY veil veil
COPY streams streams
COPY models models
COPY schemas schemas
COPY training training
COPY ops ops
RUN pip install --no-cache-dir .
RUN useradd --create-home veil
USER veil
ENTRYPOINT ["veil"]
CMD ["run"]
