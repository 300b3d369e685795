"""Local simulator of a VNPost-style postal operator (`python -m services.postal.simulator`)."""
