#!/bin/sh
# SPDX-License-Identifier: MIT
# Throwaway certificates for the TLS tests, the demo and the benchmark,
# made with the openssl CLI at the time they are needed (no key is ever
# committed).  Every key is EC P-256.
#
#   test/io/tls_certs.sh DIR
#
# DIR/ (created):
#   ca.pem ca.key          the test CA (trusted by the tests)
#   cadir/                 ca.pem in a hashed directory (SSL_CERT_DIR)
#   server.pem server.key  CA-signed, for localhost, 127.0.0.1 and ::1
#   other.pem other.key    CA-signed, for other.example only
#   expired.pem .key       CA-signed for localhost/127.0.0.1, expired
#   self.pem self.key      self-signed for localhost/127.0.0.1
#   rogue.pem rogue.key    for localhost/127.0.0.1, signed by rogueca.pem
#                          (a CA nobody trusts)
#   client.pem client.key  CA-signed client certificate (clientAuth)
#   chain.pem              server.pem followed by ca.pem
set -eu
d=${1:?usage: tls_certs.sh DIR}
mkdir -p "$d/cadir"
cd "$d"
q() { "$@" >/dev/null 2>&1 || { echo "tls_certs.sh: failed: $*" >&2; exit 1; }; }

ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
ext_server="subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
basicConstraints=CA:FALSE
keyUsage=digitalSignature
extendedKeyUsage=serverAuth"

ca() { # name subject
    q openssl req -x509 $ec -keyout "$1.key" -out "$1.pem" -subj "/CN=$2" -days 3650 \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
leaf() { # name subject ca days extensions
    printf '%s\n' "$5" > "$1.ext"
    q openssl req $ec -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
    q openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial \
        -days "$4" -extfile "$1.ext" -out "$1.pem"
    rm -f "$1.csr" "$1.ext"
}

ca ca "async.h test CA"
ca rogueca "an untrusted CA"
leaf server localhost ca 3650 "$ext_server"
leaf other other.example ca 3650 "subjectAltName=DNS:other.example
extendedKeyUsage=serverAuth"
leaf expired localhost ca -1 "$ext_server"
leaf rogue localhost rogueca 3650 "$ext_server"
leaf client "async.h test client" ca 3650 "basicConstraints=CA:FALSE
extendedKeyUsage=clientAuth"
q openssl req -x509 $ec -keyout self.key -out self.pem -subj /CN=localhost -days 3650 \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
cat server.pem ca.pem > chain.pem
cp ca.pem cadir/
q openssl rehash cadir
rm -f ./*.srl
