"""`motcua`: starts the embedded servers and supervises the six services (dev, tests, demo)."""
