-- Rasa's SQL tracker store gets its own database (bot/endpoints.docker.yml, db: rasa):
-- its table `events` must not share a database with the hub's tables.
CREATE DATABASE rasa OWNER cskh;
