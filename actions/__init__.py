"""Rasa action server for the CSKH bot: `python -m rasa_sdk --actions actions --port 5055`.

Plain logic lives in `faq.py` / `orders.py` (no Rasa import); `actions.py` adapts it to rasa-sdk.
"""
