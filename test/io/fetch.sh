#!/bin/sh
# SPDX-License-Identifier: MIT
# fetch against real servers: python3 -m http.server, nginx (static files
# and a proxied close-delimited upstream, which nginx re-sends chunked),
# and test/io/httpd.py's awkward responses (chunked, close-delimited,
# malformed, slow, 404, an interim 103 before the answer, a body cut
# short, a server that hangs up without answering) plus a refused
# port, all in one run: errors are per URL and the other URLs complete.
# Then https: nginx with TLS (a throwaway CA and certificates from
# test/io/tls_certs.sh) serving files, an SSI page it sends chunked, and
# servers whose certificate is expired, for another host, self-signed or
# from an untrusted CA, plus a plain-HTTP server spoken to in TLS; fetch
# trusts the CA through SSL_CERT_FILE, and each bad URL's error line must
# give the TLS reason.  Loopback only; every server is stopped on exit.
#   test/io/fetch.sh BUILD_DIR
set -eu
O=${1:-build}
FETCH=$O/examples/fetch
here=$(cd "$(dirname "$0")" && pwd)
. "$(dirname "$0")/peers.sh" # $tmp, $pids, cleanup, freeport, waitport
fail() { echo "  FAIL     fetch: $*"; cat "$tmp/out" 2>/dev/null; exit 1; }

mkdir -p "$tmp/www"
head -c 54321 /dev/urandom > "$tmp/www/blob.bin"
printf 'hello from a static file\n' > "$tmp/www/index.html"

python3 -u "$here/httpd.py" > "$tmp/httpd.port" &
pids="$pids $!"
i=0; until [ -s "$tmp/httpd.port" ]; do i=$((i+1)); [ $i -lt 100 ] || fail "httpd.py did not start"; sleep 0.1; done
H=$(cat "$tmp/httpd.port")

P=$(freeport)
(cd "$tmp/www" && exec python3 -m http.server --bind 127.0.0.1 "$P" >/dev/null 2>&1) &
pids="$pids $!"
waitport "$P"

urls="http://127.0.0.1:$P/blob.bin http://localhost:$P/index.html
http://127.0.0.1:$H/len http://127.0.0.1:$H/chunked http://127.0.0.1:$H/close
http://127.0.0.1:$H/bad http://127.0.0.1:$H/slow http://127.0.0.1:$H/missing
http://127.0.0.1:$H/early http://127.0.0.1:$H/short http://127.0.0.1:$H/hangup
http://127.0.0.1:$(freeport)/refused"

N=""
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    N=$(freeport)
    mkdir -p "$tmp/nginx/logs"
    cat > "$tmp/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    server {
        listen 127.0.0.1:$N;
        root $tmp/www;
        location /proxy/ { proxy_pass http://127.0.0.1:$H/; proxy_http_version 1.0; }
    }
}
CONF
    "$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
    pids="$pids $!"
    waitport "$N"
    urls="$urls http://127.0.0.1:$N/blob.bin http://127.0.0.1:$N/proxy/close http://127.0.0.1:$N/nope"
    nginx_pid=$!
else
    echo "  SKIP     fetch against nginx (not installed)"
fi

# shellcheck disable=SC2086
set +e
"$FETCH" -t 1000 $urls > "$tmp/out" 2>&1
rc=$?
set -e
[ $rc -eq 1 ] || fail "exit status $rc, expected 1 (some URLs fail on purpose)"
expect() { grep -qF -- "$1" "$tmp/out" || fail "missing: $1"; }
expect "http://127.0.0.1:$P/blob.bin: 200, 54321 bytes"
expect "http://localhost:$P/index.html: 200, 25 bytes"
expect "http://127.0.0.1:$H/len: 200, 1000 bytes"
expect "http://127.0.0.1:$H/chunked: 200, 3000 bytes"
expect "http://127.0.0.1:$H/close: 200, 2000 bytes"
expect "http://127.0.0.1:$H/bad: error: malformed response ("
expect "http://127.0.0.1:$H/short: error: body shorter than its Content-Length (10 of 1000 bytes)"
expect "http://127.0.0.1:$H/hangup: error: peer closed the connection without answering"
expect "http://127.0.0.1:$H/slow: error: deadline expired"
expect "http://127.0.0.1:$H/missing: 404,"
expect "http://127.0.0.1:$H/early: 200, 5 bytes"
expect "/refused: error: connection refused"
if [ -n "$N" ]; then
    expect "http://127.0.0.1:$N/blob.bin: 200, 54321 bytes"
    expect "http://127.0.0.1:$N/proxy/close: 200, 2000 bytes"
    expect "http://127.0.0.1:$N/nope: 404,"
    expect "total: 15 URLs, 8 ok, 7 failed"
else
    expect "total: 12 URLs, 6 ok, 6 failed"
fi
echo "  PASS     fetch against python3 http.server${N:+, nginx} and test/io/httpd.py"

# ---- https ----
if [ -z "$N" ]; then
    echo "  SKIP     fetch over https (nginx not installed)"
    exit 0
fi
kill "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null || true
"$here/tls_certs.sh" "$tmp/certs"
C=$tmp/certs
mkdir -p "$tmp/www/ssi"
printf 'head\n<!--# include virtual="/blob.bin" -->\ntail\n' > "$tmp/www/ssi/page.html"
T=$(freeport); X=$(freeport); W=$(freeport); S=$(freeport); R=$(freeport)
tls_server() { # port cert key [also on ::1]
    printf '    server { listen 127.0.0.1:%s ssl; %s ssl_certificate %s; ssl_certificate_key %s;\n' \
        "$1" "${4:+listen [::1]:$1 ssl;}" "$2" "$3"
    printf '             root %s; location /ssi/ { ssi on; } }\n' "$tmp/www"
}
cat > "$tmp/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
$(tls_server "$T" "$C/chain.pem" "$C/server.key" v6)
$(tls_server "$X" "$C/expired.pem" "$C/expired.key")
$(tls_server "$W" "$C/other.pem" "$C/other.key")
$(tls_server "$S" "$C/self.pem" "$C/self.key")
$(tls_server "$R" "$C/rogue.pem" "$C/rogue.key")
}
CONF
"$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
pids="$pids $!"
for p in $T $X $W $S $R; do waitport "$p"; done

urls="https://localhost:$T/blob.bin https://127.0.0.1:$T/index.html https://[::1]:$T/index.html
https://localhost:$T/ssi/page.html https://localhost:$T/nope
https://localhost:$X/index.html https://localhost:$W/index.html https://localhost:$S/index.html
https://localhost:$R/index.html https://127.0.0.1:$P/index.html"
many=""
i=0; while [ $i -lt 20 ]; do many="$many https://localhost:$T/blob.bin?$i"; i=$((i+1)); done
set +e
# shellcheck disable=SC2086
SSL_CERT_FILE=$C/ca.pem "$FETCH" -t 5000 $urls $many > "$tmp/out" 2>&1
rc=$?
set -e
[ $rc -eq 1 ] || fail "https: exit status $rc, expected 1"
expect "https://localhost:$T/blob.bin: 200, 54321 bytes"
expect "https://127.0.0.1:$T/index.html: 200, 25 bytes"
expect "https://[::1]:$T/index.html: 200, 25 bytes"
expect "https://localhost:$T/ssi/page.html: 200, $((5 + 54321 + 6)) bytes"
expect "https://localhost:$T/nope: 404,"
expect "https://localhost:$X/index.html: error: certificate verification failed: certificate has expired"
expect "https://localhost:$W/index.html: error: certificate verification failed: hostname mismatch"
expect "https://localhost:$S/index.html: error: certificate verification failed: self-signed certificate"
expect "https://localhost:$R/index.html: error: certificate verification failed: unable to get local issuer certificate"
expect "https://127.0.0.1:$P/index.html: error: TLS handshake or protocol error: wrong version number"
[ "$(grep -c "^https://localhost:$T/blob.bin?[0-9]*: 200, 54321 bytes" "$tmp/out")" -eq 20 ] ||
    fail "https: not every one of 20 concurrent fetches got the whole file"
expect "total: 30 URLs, 24 ok, 6 failed"
# Without the CA, the default store does not trust the chain nginx sends.
set +e
SSL_CERT_FILE=/nonexistent "$FETCH" -t 5000 "https://localhost:$T/index.html" > "$tmp/out" 2>&1
set -e
expect "https://localhost:$T/index.html: error: certificate verification failed: self-signed certificate in certificate chain"
echo "  PASS     fetch over https against nginx (files, chunked SSI, 20 at once, 5 bad certificates, a plain-HTTP server)"
