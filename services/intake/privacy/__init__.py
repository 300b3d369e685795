"""Personal data (DOMAIN §9): the read audit trail, consents, export and deletion requests."""
