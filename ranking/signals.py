"""Signals the ranking app sends to the apps above it (ranking never imports analyst)."""

from django.dispatch import Signal

# Sent after the commit that stored new scores; keyword argument ``event_ids``: list[int] of the events scored.
events_scored = Signal()
