"""Channels: each one verifies and parses what a platform delivers into an `InboundMessage`
and delivers `OutboundMessage`s back to it (`base.Channel`). The hub core knows channels
only through that interface."""
