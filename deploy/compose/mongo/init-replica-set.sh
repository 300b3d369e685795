#!/bin/bash
# One-shot job (Compose service `mongo-init`): initiate replica set rs0 if needed, then create or
# update one user per service with readWrite on its own database only (motcua_<service>).
# Environment: MONGO_HOST (first member), RS_MEMBERS (host:port,…), SERVICES (space-separated).
# Secrets: /run/secrets/mongo_root_password, /run/secrets/mongo_<service>_password.
set -euo pipefail
root_password=$(cat /run/secrets/mongo_root_password)
auth=(--quiet -u root -p "$root_password" --authenticationDatabase admin)

mongosh "${auth[@]}" --host "$MONGO_HOST" --file /scripts/initiate.js
mongosh "${auth[@]}" "mongodb://${RS_MEMBERS}/admin?replicaSet=rs0" --file /scripts/users.js
