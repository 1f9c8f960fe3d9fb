"""Triage: sentiment of every message, the escalation decision, and the handoff summary.

Plain Python (no Rasa, no web framework) so the hub, the action server and the CLI can all
use it. See `docs/contracts.md` for the interfaces.
"""
