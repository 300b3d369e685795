"""Local simulators of the payment providers (VNPay-style gateway, bank, POS terminal host)."""
