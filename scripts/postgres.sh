#!/usr/bin/env bash
# Starts Debian's PostgreSQL cluster if it is not running, makes sure a test role and database
# exist, and prints their URL on standard output (everything else goes to standard error):
#
#   export VERACRUZ_TEST_POSTGRES_URL=$(scripts/postgres.sh)
#
# The role may create databases: the attestation service's tests make one database per test so
# that they can run in parallel. The password is for a loopback-only test role, not a secret.
set -euo pipefail

ROLE=${VERACRUZ_PG_ROLE:-veracruz_test}
PASSWORD=${VERACRUZ_PG_PASSWORD:-veracruz_test}
DATABASE=${VERACRUZ_PG_DATABASE:-veracruz_test}

log() { echo "postgres.sh: $*" >&2; }

as_postgres() {
    if [ "$(id -un)" = postgres ]; then
        "$@"
    elif [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        sudo -n -u postgres -- "$@"
    fi
}

command -v pg_lsclusters >/dev/null || { log "PostgreSQL (Debian's postgresql package) is not installed"; exit 1; }

# The first cluster Debian knows; create one if the package left none.
read -r VERSION CLUSTER PORT STATUS _ < <(pg_lsclusters -h | head -n 1) || true
if [ -z "${VERSION:-}" ]; then
    VERSION=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    CLUSTER=main
    log "creating cluster $VERSION/$CLUSTER"
    pg_createcluster "$VERSION" "$CLUSTER" >&2
    read -r VERSION CLUSTER PORT STATUS _ < <(pg_lsclusters -h | head -n 1)
fi

if [ "$STATUS" != online ]; then
    log "starting cluster $VERSION/$CLUSTER on port $PORT"
    pg_ctlcluster "$VERSION" "$CLUSTER" start >&2
fi

for _ in $(seq 1 60); do
    if pg_isready -q -h 127.0.0.1 -p "$PORT"; then break; fi
    sleep 0.5
done
pg_isready -h 127.0.0.1 -p "$PORT" >&2 || { log "cluster did not become ready"; exit 1; }

psql_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" -d postgres "$@"; }

if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
    log "creating role $ROLE"
    psql_admin -c "CREATE ROLE \"$ROLE\" LOGIN CREATEDB PASSWORD '$PASSWORD'" >&2
fi
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != 1 ]; then
    log "creating database $DATABASE"
    psql_admin -c "CREATE DATABASE \"$DATABASE\" OWNER \"$ROLE\"" >&2
fi

echo "postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
