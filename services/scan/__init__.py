"""Scan (số hoá): digitised dossier papers in S3, reusable documents, signed downloads."""
