"""The bus API shared by every service: subjects, streams, consumers and event models."""
