"""Listeners: signed webhook deliveries of matching events, retried, then dead letters."""
