# The demo shop as a container: `docker build -f docker/demoshop.Dockerfile -t larkspur-demoshop .`
# Not built in CI (the CI machines have no Docker engine); kept in step with requirements.lock.
FROM python:3.10-slim
WORKDIR /app
COPY requirements.txt requirements.lock ./
RUN pip install --no-cache-dir -c requirements.lock Flask waitress pydantic python-dotenv SQLAlchemy psycopg2-binary python-json-logger
COPY foundation ./foundation
COPY contract ./contract
COPY demoshop ./demoshop
ENV DEMOSHOP_HOST=0.0.0.0 DEMOSHOP_PORT=8081 DEMOSHOP_DATABASE_URL=sqlite:////data/demoshop.sqlite
RUN mkdir -p /data && chown 65534 /data
VOLUME /data
EXPOSE 8081
USER 65534
CMD ["python", "-m", "demoshop"]
