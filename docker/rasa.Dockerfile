# Rasa 3.6.21 (last Apache-2.0 release) needs Python 3.10.
FROM python:3.10-slim
WORKDIR /app
COPY bot/requirements.txt bot/requirements.txt
RUN pip install --no-cache-dir -r bot/requirements.txt
COPY bot bot
COPY nlu_data nlu_data
ENV RASA_TELEMETRY_ENABLED=false
RUN rasa train --config bot/config.yml --domain bot/domain.yml --data nlu_data \
    --out var/models/rasa --fixed-model-name cskh
