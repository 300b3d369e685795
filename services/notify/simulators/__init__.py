"""Local simulators of the brand-name SMS gateway and Zalo ZNS (`python -m services.notify.simulators`)."""
