# The Python 3.11 side: hub (handoff) and action server share one image. The index and the
# sentiment model are built into the image (nothing is downloaded at run time); the
# processes run as an unprivileged user (uid 10001, as docker-compose.yml says).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cskh cskh
COPY knowledge_base knowledge_base
COPY triage triage
# Everyday Vietnamese for putting marks back on queries typed without them (cskh/diacritics.py).
COPY nlu_data nlu_data
COPY actions actions
COPY handoff handoff
RUN pip install --no-cache-dir -e . --config-settings editable_mode=compat \
    && cskh kb build --quiet && cskh sentiment train \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin cskh \
    && chown -R 10001:10001 /app/var
ENV CSKH_HOME=/app
USER 10001:10001
