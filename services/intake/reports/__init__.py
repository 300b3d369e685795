"""Indicators and reports: MongoDB aggregation pipelines over dossiers and ratings, CSV/XLSX export."""
