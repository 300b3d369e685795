"""Intake II's HTTP routers (processing, public lookup, feedback, ratings, registry, reports, sync)."""
