#!/bin/sh
# Start one Một Cửa service: `python -m services.$SERVICE`.
# Compose secrets are files named after the setting they hold (/run/secrets/MOTCUA_S3_SECRET_KEY);
# they are exported as environment variables first. Kubernetes passes secrets as env (secretKeyRef).
set -eu

secrets_dir="${SECRETS_DIR:-/run/secrets}"
if [ -d "$secrets_dir" ]; then
  for file in "$secrets_dir"/MOTCUA_*; do
    [ -f "$file" ] || continue
    name=$(basename "$file")
    value=$(cat "$file")
    export "$name=$value"
  done
fi

if [ "$#" -gt 0 ]; then
  exec "$@"
fi

case "${SERVICE:-}" in
  intake|scan|postal|payments|notify|portal) ;;
  *) echo "motcua: SERVICE must be one of intake scan postal payments notify portal (got '${SERVICE:-}')" >&2; exit 64 ;;
esac
exec python -m "services.${SERVICE}"
