#!/usr/bin/env bash
# Write the secret files Compose mounts (compose.yaml, commune.yaml) into secrets/.
#
#   ./gen-secrets.sh              # province (MongoDB members mongo-1..3)
#   ./gen-secrets.sh --commune    # commune office (one MongoDB member, `mongo`)
#   ./gen-secrets.sh [--commune] DIR
#
# Existing files are kept, so running it again never rotates a password behind a running
# database. Random values are generated for what we own (database users, S3 key, peppers,
# link secrets, Keycloak and Grafana admins); what a provider issues (VNPay, bank, POS, Zalo,
# postal operator, national portal, SMTP relay, SMS gateways) is written empty or as a
# placeholder: fill it in.
set -euo pipefail
umask 077

mode=province
if [[ "${1:-}" == "--commune" ]]; then
  mode=commune
  shift
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${1:-"$here/secrets"}
mkdir -p "$dir"

env_value() {  # a value from .env (or .env.example), for the S3 access key
  local name=$1 default=$2 file value=""
  for file in "$here/.env" "$here/.env.example"; do
    if [[ -f "$file" ]]; then
      value=$(sed -n "s/^${name}=//p" "$file" | tail -n 1)
      [[ -n "$value" ]] && break
    fi
  done
  echo "${value:-$default}"
}

random() {  # URL-safe random string: $1 bytes of entropy, hex encoded
  head -c "$1" /dev/urandom | od -An -v -tx1 | tr -d ' \n'
}

put() {  # put NAME VALUE: write unless the file already exists
  local path="$dir/$1"
  if [[ ! -e "$path" ]]; then
    printf '%s' "$2" > "$path"
    echo "wrote $path"
  fi
}

services=(intake scan postal payments notify)
if [[ "$mode" == province ]]; then
  mongo_hosts="mongo-1:27017,mongo-2:27017,mongo-3:27017"
else
  mongo_hosts="mongo:27017"
fi

# MongoDB: key file shared by the members, root, one user per service and its URL.
put mongo_keyfile "$(head -c 384 /dev/urandom | base64 | tr -d '\n')"
put mongo_root_password "$(random 24)"
for service in "${services[@]}"; do
  put "mongo_${service}_password" "$(random 24)"
  password=$(cat "$dir/mongo_${service}_password")
  put "${service}_mongo_url" \
    "mongodb://motcua_${service}:${password}@${mongo_hosts}/motcua_${service}?replicaSet=rs0&authSource=admin"
done

# S3 (SeaweedFS identities file, or MinIO's root password).
s3_access_key=$(env_value S3_ACCESS_KEY motcua)
put s3_secret_key "$(random 24)"
s3_secret_key=$(cat "$dir/s3_secret_key")
put seaweedfs_s3_config "{\"identities\": [{\"name\": \"motcua\", \"credentials\": [{\"accessKey\": \"${s3_access_key}\", \"secretKey\": \"${s3_secret_key}\"}], \"actions\": [\"Admin\", \"Read\", \"Write\", \"List\", \"Tagging\"]}]}"

# Service secrets we own.
put scan_owner_id_pepper "$(random 32)"
put receipt_link_secret "$(random 32)"

# Provider-issued: empty = that channel is off (payments answers 503 channel_unavailable).
put vnpay_hash_secret ""
put bank_webhook_secret ""
put pos_secret ""
put zalo_access_token ""
put zalo_oa_secret ""
put national_portal_token ""
put postal_operator_token ""
put postal_webhook_secret ""
put sms_providers "[]"
put smtp_url "smtp+starttls://no-reply%40example.gov.vn:CHANGE-ME@smtp.example.gov.vn:587"

if [[ "$mode" == province ]]; then
  put keycloak_db_password "$(random 24)"
  put grafana_admin_password "$(random 16)"
  put keycloak.env "KC_DB_PASSWORD=$(cat "$dir/keycloak_db_password")
KC_BOOTSTRAP_ADMIN_USERNAME=admin
KC_BOOTSTRAP_ADMIN_PASSWORD=$(random 16)
PORTAL_CLIENT_SECRET=$(random 24)
OPS_CLIENT_SECRET=$(random 24)
"
fi
echo "secrets in $dir (mode $mode); fill in the provider-issued ones before going live"
