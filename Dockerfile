# Production image: the API served by uvicorn (gbt-server migrates the database, then serves).
# Configure with GBT_* environment variables; GBT_DATABASE_URL and GBT_ADMIN_TOKEN are required
# in production (see README.md, "Configuration").
# The dashboard's Chart.js comes from npm (pinned in app/web/package-lock.json), as in `make`.
FROM node:20-slim AS web
WORKDIR /web
COPY app/web/package.json app/web/package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GBT_HOST=0.0.0.0 \
    GBT_PORT=8000 \
    GBT_DATA_DIR=/srv/var

# The PDF reports: WeasyPrint renders with Pango; the Japanese report embeds IPAGothic.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
        fonts-ipafont-gothic \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY --from=web /web/node_modules ./app/web/node_modules
COPY migrations ./migrations
COPY contracts/artifacts ./contracts/artifacts
# Editable install keeps alembic.ini and migrations/ next to the code that finds them.
RUN pip install --no-cache-dir -e . \
    && useradd --system --uid 10001 gbt \
    && mkdir -p /srv/var && chown gbt /srv/var

USER gbt
EXPOSE 8000
CMD ["gbt-server"]
