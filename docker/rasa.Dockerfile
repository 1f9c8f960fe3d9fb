# Rasa 3.6.21 (last Apache-2.0 release) needs Python 3.10. Runs as uid 10001.
FROM python:3.10-slim
WORKDIR /app
COPY bot/requirements.txt bot/requirements.txt
RUN pip install --no-cache-dir -r bot/requirements.txt
COPY bot bot
# bot/components.py reads words as cskh/text.py does (stdlib only).
COPY cskh/__init__.py cskh/text.py cskh/
COPY nlu_data nlu_data
ENV RASA_TELEMETRY_ENABLED=false
RUN rasa train --config bot/config.yml --domain bot/domain.yml --data nlu_data \
    --out var/models/rasa --fixed-model-name cskh \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin rasa \
    && chown -R 10001:10001 /app
USER 10001:10001
