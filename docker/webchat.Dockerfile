# The web chat in production: nginx serves webchat/'s static files with docker/nginx/webchat.conf and proxies the
# widget's webhook to Rasa: `docker build -f docker/webchat.Dockerfile -t larkspur-webchat .`
# One stage: nothing is built, the files are served as they are in the repository. The base image runs nginx
# as uid 101, listens on 8080 and renders /etc/nginx/templates/*.template with envsubst at start; the filter
# below lets it fill in ${RASA_UPSTREAM} (host:port of the Rasa server, required) and no other variable.
# Runtime settings: docs/operations.md#images. Lint: `make lint` (hadolint); tests/unit/test_dockerfiles.py.

FROM nginxinc/nginx-unprivileged:1.28.0-bookworm
# The base's own server also listens on 8080 and would answer for unknown host names.
RUN rm /etc/nginx/conf.d/default.conf
COPY docker/nginx/webchat.conf /etc/nginx/templates/webchat.conf.template
COPY webchat/index.html webchat/widget.js webchat/widget.css webchat/demo.css /usr/share/nginx/larkspur-webchat/
ENV NGINX_ENVSUBST_FILTER=RASA_UPSTREAM
USER 101
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/health"]
