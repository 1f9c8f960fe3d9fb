"""Rasa action server for the CSKH bot: `python -m actions.serve --port 5055` (rasa-sdk + /metrics).

Plain logic lives in `faq.py` / `orders.py` (no Rasa import); `actions.py` adapts it to rasa-sdk.
"""
