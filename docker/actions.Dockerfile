# The action server (`python -m actions`): `docker build -f docker/actions.Dockerfile -t larkspur-actions .`
# Stage `venv` installs only what the action server imports (rasa-sdk, the backend clients' libraries, the rate
# limits' library and its Redis client, the audit trail's libraries; not Rasa) at the versions of
# requirements.lock; the final stage gets that virtualenv and the code.
# Runtime settings: docs/operations.md#images. Lint: `make lint` (hadolint); tests/unit/test_dockerfiles.py.

FROM python:3.10.19-slim-bookworm AS venv
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /build
COPY requirements.lock ./
# setuptools at the virtualenv's version (pip freeze leaves it out of requirements.lock): limits and Rasa
# import pkg_resources, which setuptools 81 and later no longer ship.
# scrubadub (and its detectors' phonenumbers and python-stdnum): every log line is redacted (foundation/pii.py).
RUN /opt/venv/bin/pip install --no-cache-dir -c requirements.lock setuptools==70.3.0 \
        rasa-sdk requests tenacity pybreaker prometheus-client pydantic python-json-logger python-dotenv \
        phonenumbers PyJWT limits redis filelock SQLAlchemy psycopg2-binary tabulate scrubadub python-stdnum

FROM python:3.10.19-slim-bookworm
RUN useradd --no-log-init --uid 10001 --user-group --create-home --shell /usr/sbin/nologin larkspur \
    && mkdir -p /app/var \
    && chown 10001:10001 /app/var
COPY --from=venv /opt/venv /opt/venv
WORKDIR /app
COPY foundation ./foundation
COPY contract ./contract
COPY actions ./actions
COPY audit ./audit
# Every interface of the container: the actions on ACTIONS_PORT, Prometheus on ACTIONS_METRICS_PORT. No secret
# has a default: ACTION_SERVER_TOKEN (required) and the backends' keys come from the deployment.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ACTIONS_HOST=0.0.0.0 \
    ACTIONS_PORT=5055 \
    ACTIONS_METRICS_HOST=0.0.0.0 \
    ACTIONS_METRICS_PORT=9105
# var/: the audit trail's spool file (and its SQLite database unless AUDIT_DATABASE_URL names another).
VOLUME /app/var
USER 10001
EXPOSE 5055 9105
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/health' % os.environ['ACTIONS_PORT'], timeout=4)"]
CMD ["python", "-m", "actions"]
