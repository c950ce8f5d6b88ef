FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SHUANGSUI_DATA_DIR=/data
WORKDIR /srv/shuangsui

COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY verifier ./verifier
COPY docs ./docs
RUN pip install --no-cache-dir -e . && useradd --system --home /data shuangsui \
    && mkdir -p /data && chown shuangsui /data

USER shuangsui
VOLUME ["/data"]
EXPOSE 8000
CMD ["shuangsui", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
