#!/usr/bin/env bash
# A real OpenLDAP (Debian's slapd) on loopback for the tests, with TLS
# (ldaps:// and StartTLS on ldap://) and a test directory: `ldap.sh start
# DIR` starts it and writes DIR/env (BUTLER_TEST_LDAP_*); `ldap.sh stop
# DIR` stops it and removes DIR.
#
# The directory (dc=example,dc=org): a service account cn=butler that may
# search; people alice (requesters + approvers), bob (requesters), carol
# (no Butler group), dave (operators), each with password "<name>-pw-123";
# groups cn=butler-requesters, cn=butler-approvers, cn=butler-operators
# under ou=groups.
set -euo pipefail
cmd="${1:?start|stop}"
LD="${2:?state folder}"
PORT="${BUTLER_TEST_LDAP_PORT:-3890}"
SPORT="${BUTLER_TEST_LDAPS_PORT:-$((PORT + 1))}"

case "$cmd" in
start)
  command -v slapd >/dev/null || [ -x /usr/sbin/slapd ] || { echo "slapd not found" >&2; exit 3; }
  PATH="$PATH:/usr/sbin"
  rm -rf "$LD"
  mkdir -p "$LD/db"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Butler test LDAP CA" \
    -keyout "$LD/ca.key" -out "$LD/ca.pem" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
    -keyout "$LD/key.pem" -out "$LD/server.csr" >/dev/null 2>&1
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$LD/ext.cnf"
  openssl x509 -req -in "$LD/server.csr" -CA "$LD/ca.pem" -CAkey "$LD/ca.key" -CAcreateserial \
    -days 2 -extfile "$LD/ext.cnf" -out "$LD/cert.pem" >/dev/null 2>&1
  svc_pw="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  cat >"$LD/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $LD/slapd.pid
TLSCACertificateFile $LD/ca.pem
TLSCertificateFile $LD/cert.pem
TLSCertificateKeyFile $LD/key.pem
database mdb
suffix "dc=example,dc=org"
rootdn "cn=admin,dc=example,dc=org"
rootpw $(slappasswd -s "$svc_pw-admin")
directory $LD/db
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
CONF
  person() {
    printf 'dn: uid=%s,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: Test\nmail: %s@example.org\nuserPassword: %s\n\n' \
      "$1" "$1" "$1" "$1" "$(slappasswd -s "$1-pw-123")"
  }
  group() {
    printf 'dn: cn=%s,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: %s\n' "$1" "$1"
    shift
    for m in "$@"; do printf 'member: uid=%s,ou=people,dc=example,dc=org\n' "$m"; done
    printf '\n'
  }
  {
    printf 'dn: dc=example,dc=org\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n'
    printf 'dn: ou=people,dc=example,dc=org\nobjectClass: organizationalUnit\nou: people\n\n'
    printf 'dn: ou=groups,dc=example,dc=org\nobjectClass: organizationalUnit\nou: groups\n\n'
    printf 'dn: cn=butler,dc=example,dc=org\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: butler\nuserPassword: %s\n\n' "$(slappasswd -s "$svc_pw")"
    person alice; person bob; person carol; person dave
    group butler-requesters alice bob
    group butler-approvers alice
    group butler-operators dave
  } >"$LD/data.ldif"
  slapadd -f "$LD/slapd.conf" -l "$LD/data.ldif" >/dev/null 2>&1
  chown -R openldap:openldap "$LD"
  chmod 755 "$LD"
  slapd -f "$LD/slapd.conf" -h "ldap://127.0.0.1:$PORT/ ldaps://127.0.0.1:$SPORT/" -u openldap -g openldap
  for _ in $(seq 100); do
    ldapsearch -x -H "ldap://127.0.0.1:$PORT" -D cn=butler,dc=example,dc=org -w "$svc_pw" \
      -b dc=example,dc=org -s base dn >/dev/null 2>&1 && break
    sleep 0.1
  done
  ldapsearch -x -H "ldap://127.0.0.1:$PORT" -D cn=butler,dc=example,dc=org -w "$svc_pw" \
    -b dc=example,dc=org -s base dn >/dev/null
  cat >"$LD/env" <<ENV
export BUTLER_TEST_LDAP_URL=ldap://127.0.0.1:$PORT
export BUTLER_TEST_LDAPS_URL=ldaps://127.0.0.1:$SPORT
export BUTLER_TEST_LDAP_CA=$LD/ca.pem
export BUTLER_TEST_LDAP_BIND_DN=cn=butler,dc=example,dc=org
export BUTLER_TEST_LDAP_BIND_PASSWORD=$svc_pw
ENV
  ;;
stop)
  if [ -f "$LD/slapd.pid" ]; then
    pid="$(cat "$LD/slapd.pid")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$LD"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
