# Tre om dagen: one image for the web app (and, with another command, the scheduler).
FROM node:20-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --no-audit --no-fund \
    && mkdir -p /out/vendor && cp node_modules/htmx.org/dist/htmx.min.js /out/vendor/

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    TOD_ENV=production \
    TOD_HOST=0.0.0.0 \
    TOD_PORT=8000 \
    TOD_DATABASE_URL=sqlite:////data/tod.db \
    TOD_MEDIA_URL=file:/data/media
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir uv \
    && uv pip install --system --no-cache -r requirements.lock \
    && pip uninstall -y uv
COPY app ./app
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY --from=assets /out/vendor ./static/vendor
RUN useradd --system --uid 10001 --home-dir /data tod && mkdir -p /data && chown tod /data
USER tod
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
# Migrations first, then the server; TOD_SECRET_KEY must be given (production refuses the default).
CMD ["sh", "-c", "python -m app db upgrade && exec python -m app serve"]
