"""Fake external platforms (real HTTP servers on 127.0.0.1) for the hub's API and e2e tests."""
