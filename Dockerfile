# The Release Portal application image: one image for the web, worker and beat processes of
# compose.yaml (docs/topology.md). Installs are hash-checked from the same lock files as `make`.
FROM python:3.11-slim-bookworm

# WeasyPrint's libraries and a font for the PDF reports and evidence-pack summaries.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
      fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/venv/bin:$PATH DJANGO_SETTINGS_MODULE=releaseportal.settings
WORKDIR /app

COPY pyproject.toml requirements.lock requirements-uv.lock ./
RUN python -m venv /venv \
 && /venv/bin/pip install --quiet --require-hashes --no-deps -r requirements-uv.lock \
 && /venv/bin/uv pip install --quiet --python /venv/bin/python --require-hashes -r requirements.lock

COPY . .
RUN /venv/bin/uv pip install --quiet --python /venv/bin/python --no-deps --no-build-isolation -e . \
 && DEBUG=false SECRET_KEY=collectstatic-only RP_VAR_DIR=/tmp/build-var python manage.py collectstatic --noinput \
 && useradd --system --uid 10001 --home-dir /app portal \
 && mkdir -p /app/var/media \
 && chown -R portal /app/var

USER portal
EXPOSE 8000
CMD ["gunicorn", "releaseportal.wsgi", "--workers", "4", "--bind", "0.0.0.0:8000", "--forwarded-allow-ips", "*"]
