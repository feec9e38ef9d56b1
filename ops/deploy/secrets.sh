#!/usr/bin/env bash
# The compose stack's secrets, made by the one-shot `certs` service (the Elasticsearch image, for its
# elasticsearch-certutil) before anything else starts. Each folder is a volume of its own, so each
# service mounts only what it needs:
#   ca/      the CA certificate and private key: mounted by this job alone, never by a service
#   es/      Elasticsearch's HTTP certificate and key, and the CA certificate (the elasticsearch service)
#   kafka/   Kafka's PKCS#12 keystore, its password files and the JAAS file with the SASL users, under the
#            names the apache/kafka image's configure script reads from /etc/kafka/secrets (the kafka service)
#   public/  the CA certificate alone, for every client (Kibana, the Veil services)
# Certificates and keystore are made once; the SASL users are written again at every start, from .env.
set -euo pipefail
umask 027

root=${SECRETS_ROOT:-/secrets}
certutil=${CERTUTIL:-/usr/share/elasticsearch/bin/elasticsearch-certutil}
owner=${SECRETS_OWNER:-1000:0}  # the elasticsearch and kafka images both run as uid 1000
ca=$root/ca es=$root/es kafka=$root/kafka public=$root/public
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

: "${KAFKA_VEIL_PASSWORD:?set KAFKA_VEIL_PASSWORD in .env}"
case $KAFKA_VEIL_PASSWORD in
  *[\"\\\;]* | *[[:space:]]*) echo "KAFKA_VEIL_PASSWORD must not contain quotes, backslashes, semicolons or spaces" >&2; exit 1 ;;
esac

mkdir -p "$ca" "$es" "$kafka" "$public"

if [ ! -f "$ca/ca.crt" ]; then
  "$certutil" ca --silent --pem --out "$work/ca.zip"
  unzip -q -o "$work/ca.zip" -d "$work/ca"
  cp "$work/ca/ca/ca.crt" "$work/ca/ca/ca.key" "$ca/"
  echo "made the stack's CA"
fi

if [ ! -f "$es/elasticsearch.crt" ]; then
  "$certutil" cert --silent --pem --ca-cert "$ca/ca.crt" --ca-key "$ca/ca.key" \
    --name elasticsearch --dns elasticsearch,localhost --out "$work/es.zip"
  unzip -q -o "$work/es.zip" -d "$work/es"
  cp "$work/es/elasticsearch/elasticsearch.crt" "$work/es/elasticsearch/elasticsearch.key" "$es/"
  echo "made Elasticsearch's certificate"
fi

if [ ! -f "$kafka/kafka.keystore.p12" ]; then
  password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  "$certutil" cert --silent --ca-cert "$ca/ca.crt" --ca-key "$ca/ca.key" \
    --name kafka --dns kafka,localhost --pass "$password" --out "$kafka/kafka.keystore.p12"
  # PKCS#12 has one password for the store and its key; the image reads each from a file of its own
  printf '%s' "$password" > "$kafka/keystore_creds"
  printf '%s' "$password" > "$kafka/key_creds"
  echo "made Kafka's keystore"
fi

# SASL/PLAIN users of the SASL_SSL listener (KAFKA_OPTS points the broker at this file)
cat > "$kafka/kafka_server_jaas.conf" <<JAAS
KafkaServer {
  org.apache.kafka.common.security.plain.PlainLoginModule required
  user_veil="$KAFKA_VEIL_PASSWORD";
};
JAAS

cp "$ca/ca.crt" "$es/ca.crt"
cp "$ca/ca.crt" "$public/ca.crt"
if [ "$(id -u)" = 0 ]; then chown -R "$owner" "$es" "$kafka" "$public"; fi
chmod 0750 "$es" "$kafka"
chmod 0640 "$es"/* "$kafka"/*
chmod 0755 "$public"
chmod 0644 "$public/ca.crt"
chmod 0700 "$ca"
echo "secrets ready"
