# The Python 3.11 side: hub (handoff) and action server share one image.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cskh cskh
COPY knowledge_base knowledge_base
COPY triage triage
COPY actions actions
COPY handoff handoff
RUN pip install --no-cache-dir -e . --config-settings editable_mode=compat \
    && cskh kb build --quiet && cskh sentiment train
ENV CSKH_HOME=/app
