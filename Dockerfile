# imagegate: one gateway replica. Build: docker build -t imagegate .   Run: see compose.yaml and deploy/.
# Two stages: the wheel is built in the first, the slim runtime installs only the wheel (with the s3 extra).

FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    IMAGEGATE_HOST=0.0.0.0 \
    IMAGEGATE_PORT=8080 \
    IMAGEGATE_DATA_DIR=/data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir "$(ls /wheels/imagegate-*.whl)[s3]" \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /data --create-home imagegate
USER 10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)"]
CMD ["imagegate", "serve"]
