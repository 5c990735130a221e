# The analytics consumer with its report page (`python -m analytics consume --source rabbitmq --serve`):
# `docker build -f docker/analytics.Dockerfile -t larkspur-analytics .`
# An image of its own, the smallest that runs it: the Rasa image has the code but carries Rasa and the model,
# the action server's image lacks the report's libraries (matplotlib, Jinja, scrubadub, aio-pika), which the
# action server should not carry. Stage `venv` installs what analytics/ and foundation/ import at the versions of
# requirements.lock; the final stage gets that virtualenv and the code: analytics/, foundation/ and the one module
# of rasa_runtime/ whose names the counting shares with the Rasa server's metrics (rasa_runtime/metrics.py, which
# imports Rasa only inside functions the analytics never calls).
# Runtime settings: docs/operations.md#images. Lint: `make lint` (hadolint); tests/unit/test_dockerfiles.py.

FROM python:3.10.19-slim-bookworm AS venv
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /build
COPY requirements.lock ./
# setuptools at the virtualenv's version (pip freeze leaves it out of requirements.lock), as in the other images.
RUN /opt/venv/bin/pip install --no-cache-dir -c requirements.lock setuptools==70.3.0 \
        aio-pika SQLAlchemy psycopg2-binary matplotlib Jinja2 scrubadub phonenumbers python-stdnum \
        pydantic python-dotenv python-json-logger prometheus-client

FROM python:3.10.19-slim-bookworm
RUN useradd --no-log-init --uid 10001 --user-group --create-home --shell /usr/sbin/nologin larkspur
COPY --from=venv /opt/venv /opt/venv
WORKDIR /app
COPY foundation ./foundation
COPY analytics ./analytics
COPY rasa_runtime/__init__.py rasa_runtime/metrics.py ./rasa_runtime/
# The report page and the metrics on every interface of the container (ANALYTICS_PORT, ANALYTICS_METRICS_PORT).
# No secret has a default: REPORT_TOKEN, ANALYTICS_RABBITMQ_URL and ANALYTICS_DATABASE_URL come from the
# deployment; without REPORT_TOKEN the page refuses every request. MPLCONFIGDIR: matplotlib's cache on the writable /tmp of a read-only container.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    ANALYTICS_HOST=0.0.0.0 \
    ANALYTICS_PORT=8090 \
    ANALYTICS_METRICS_HOST=0.0.0.0 \
    ANALYTICS_METRICS_PORT=9109
USER 10001
EXPOSE 8090 9109
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/health' % os.environ['ANALYTICS_PORT'], timeout=4)"]
CMD ["python", "-m", "analytics", "consume", "--source", "rabbitmq", "--serve"]
