# One image for the web app, the Celery worker and beat (docker-compose.yml). Runs from the source tree.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# The dependencies first, read from pyproject.toml: this layer is rebuilt only when they change.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY . .
# Static files with the production storage (hashed names + manifest), so they must be built with the
# production settings; this key exists only for the build and is refused by nothing at run time.
RUN DJANGO_ENV=production ALLOWED_HOSTS=build \
        SECRET_KEY=build-only-collectstatic-key-never-used-at-run-time-0123456789 \
        python manage.py collectstatic --noinput \
    && useradd --system --home-dir /app --uid 10001 app \
    && mkdir -p /app/var/media \
    && chown -R app /app/var
USER app
EXPOSE 8000
CMD ["gunicorn", "dealership.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--timeout", "60"]
