"""The ``rain-guard`` command."""

from rain_guard.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
