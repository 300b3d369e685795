"""Postal operator adapters: one interface, one implementation per operator's API."""
