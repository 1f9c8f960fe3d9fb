"""Shared pieces of the CSKH assistant: paths, Vietnamese text tools and the `cskh` CLI."""
