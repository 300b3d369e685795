"""Plumbing shared by every service: settings, clients, outbox, telemetry, logging, HTTP basics."""
