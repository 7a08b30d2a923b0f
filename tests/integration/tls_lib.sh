# Throwaway TLS material for tests, made with Debian's openssl CLI. Source it, then
# `tls_make DIR`: DIR/ca.pem (+ ca-key.pem), a server certificate for 127.0.0.1 and localhost
# (server.pem, server-key.pem; also usable as a client certificate, so the stack's own probes
# can present it), a client certificate (client.pem, client-key.pem), and a second, unrelated
# CA (other-ca.pem) that signed none of them. Keys are unencrypted PKCS#8, mode 0600.
tls_make() { # dir
  local d=$1
  mkdir -p "$d"
  (
    set -e
    cd "$d"
    umask 077
    key() { openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }
    key ca-key.pem
    openssl req -x509 -new -key ca-key.pem -subj "/CN=outbox test CA $$" -days 2 -out ca.pem \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    key other-ca-key.pem
    openssl req -x509 -new -key other-ca-key.pem -subj "/CN=outbox unrelated CA $$" -days 2 \
      -out other-ca.pem -addext basicConstraints=critical,CA:TRUE
    sign() { # name, subject, extensions
      key "$1-key.pem"
      openssl req -new -key "$1-key.pem" -subj "$2" -out "$1.csr"
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    sign server "/CN=127.0.0.1" "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth,clientAuth"
    sign client "/CN=outbox-client" "extendedKeyUsage=clientAuth"
    chmod 644 ./*.pem
    chmod 600 ./*-key.pem
  )
}
