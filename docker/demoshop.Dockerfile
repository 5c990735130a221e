# The demo shop (`python -m demoshop`): `docker build -f docker/demoshop.Dockerfile -t larkspur-demoshop .`
# Stage `venv` installs what the shop imports at the versions of requirements.lock; the final stage gets that
# virtualenv and the code. SQLite in the /data volume unless DEMOSHOP_DATABASE_URL names another database.
# Runtime settings: docs/operations.md#images. Lint: `make lint` (hadolint); tests/unit/test_dockerfiles.py.

FROM python:3.10.19-slim-bookworm AS venv
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /build
COPY requirements.lock ./
# setuptools at the virtualenv's version (pip freeze leaves it out of requirements.lock), as in the other images.
# scrubadub (and its detectors' phonenumbers and python-stdnum): every log line is redacted (foundation/pii.py).
RUN /opt/venv/bin/pip install --no-cache-dir -c requirements.lock setuptools==70.3.0 \
        Flask waitress pydantic python-dotenv SQLAlchemy psycopg2-binary python-json-logger prometheus-client \
        scrubadub phonenumbers python-stdnum

FROM python:3.10.19-slim-bookworm
RUN useradd --no-log-init --uid 10001 --user-group --create-home --shell /usr/sbin/nologin larkspur \
    && mkdir /data \
    && chown 10001:10001 /data
COPY --from=venv /opt/venv /opt/venv
WORKDIR /app
COPY foundation ./foundation
COPY contract ./contract
COPY demoshop ./demoshop
# The image sets no DEMOSHOP_API_KEY: unset, the shop takes its development key (demoshop/config.py), so set a
# real one wherever the shop is reachable by others.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DEMOSHOP_HOST=0.0.0.0 \
    DEMOSHOP_PORT=8081 \
    DEMOSHOP_DATABASE_URL=sqlite:////data/demoshop.sqlite
VOLUME /data
USER 10001
EXPOSE 8081
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/health' % os.environ['DEMOSHOP_PORT'], timeout=4)"]
CMD ["python", "-m", "demoshop"]
