#!/bin/sh
# make-certs.sh: a CA, a server certificate and client certificates for
# berthd's mutual TLS ([tls] in berthd.toml; berthctl --host --tlsverify),
# with OpenSSL, for a test setup (as Docker's "protect the daemon socket"
# recipe). Production keys belong to your own CA.
#
#   contrib/tls/make-certs.sh DIR [--server-name NAME]... [--client CN]... [--days N]
#
# Writes DIR/ca.pem (and ca-key.pem), DIR/server-cert.pem and
# DIR/server-key.pem (valid for localhost, 127.0.0.1 and each
# --server-name), and per --client CN a directory DIR/CN/ holding ca.pem,
# cert.pem and key.pem: what berthctl reads from $BERTH_CERT_PATH, or from
# the directory named after a host in its hosts file (~/.berth/hosts).
# --days -1 makes certificates that have already expired (for tests).
set -eu
[ $# -ge 1 ] || { sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 2; }
dir=$1; shift
names="DNS:localhost,IP:127.0.0.1" clients="" days=365
while [ $# -gt 0 ]; do
    case $1 in
    --server-name) case $2 in *[!0-9.]*) names="$names,DNS:$2" ;; *) names="$names,IP:$2" ;; esac; shift ;;
    --client) clients="$clients $2"; shift ;;
    --days) days=$2; shift ;;
    *) echo "make-certs: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$dir"
umask 077
cd "$dir"
[ -e ca.pem ] || openssl req -x509 -newkey rsa:3072 -nodes -keyout ca-key.pem -out ca.pem -days 3650 \
    -subj "/CN=berth test CA" 2>/dev/null
ext=$(mktemp)
trap 'rm -f "$ext" server.csr client.csr' EXIT
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$names" >"$ext"
openssl req -newkey rsa:3072 -nodes -keyout server-key.pem -out server.csr -subj "/CN=berthd" 2>/dev/null
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server-cert.pem \
    -days 3650 -extfile "$ext" 2>/dev/null
for cn in $clients; do
    mkdir -p "$cn"
    printf 'extendedKeyUsage=clientAuth\n' >"$ext"
    openssl req -newkey rsa:3072 -nodes -keyout "$cn/key.pem" -out client.csr -subj "/CN=$cn" 2>/dev/null
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out "$cn/cert.pem" \
        -days "$days" -extfile "$ext" 2>/dev/null
    cp ca.pem "$cn/ca.pem"
done
chmod 644 ca.pem server-cert.pem
echo "make-certs: $dir: ca.pem, server-cert.pem, server-key.pem; clients:${clients:- none} (each DIR/CN/ca.pem, cert.pem, key.pem)"
