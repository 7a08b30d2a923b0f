#!/usr/bin/env bash
# Least privilege (sql/roles.sql says what each grant is for), on the stack as compose/stack
# sets it up; every relay and projector test runs with exactly these grants:
#   - outbox_relay cannot write the outbox (the relay does not prune; the application deletes);
#   - outbox_projector cannot create anything in the read database at run time (every table,
#     index and function comes from the setup SQL, run by the owner).
source "$(dirname "$0")/lib.sh"

super_read() { psql -X -q -tA "$OUTBOX_PG_READ_SUPER" -c "$1"; }
# Should the CREATE below succeed (a regression), leave nothing behind.
cleanup_hooks+=("super_read 'DROP TABLE IF EXISTS public.least_privilege_probe' >/dev/null")
# as ROLE-CONNINFO SQL: the SQLSTATE of the statement's error, or "ok".
as() { psql -X -q -tA -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate "$1" -c "$2" >/dev/null 2>"$TEST_TMP/err" &&
  echo ok || sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\).*/\1/p' "$TEST_TMP/err"; }

for p in INSERT UPDATE DELETE TRUNCATE; do
  check_eq "outbox_relay has no $p on public.outbox" f \
    "$(psql_app -c "SELECT has_table_privilege('outbox_relay', 'public.outbox', '$p')")"
done
check_eq "outbox_relay keeps SELECT on public.outbox (outbox-relay check reads it)" t \
  "$(psql_app -c "SELECT has_table_privilege('outbox_relay', 'public.outbox', 'SELECT')")"
check_eq "a DELETE as outbox_relay is refused (42501)" 42501 \
  "$(as "$OUTBOX_PG_RELAY" "DELETE FROM public.outbox WHERE false")"
check_eq "outbox_relay may not create in the application database" f \
  "$(psql_app -c "SELECT has_database_privilege('outbox_relay', current_database(), 'CREATE')")"

check_eq "outbox_projector may create in no schema of the read database" "" \
  "$(super_read "SELECT string_agg(nspname, ',') FROM pg_namespace
                 WHERE has_schema_privilege('outbox_projector', oid, 'CREATE')")"
check_eq "outbox_projector may not create schemas in the read database" f \
  "$(super_read "SELECT has_database_privilege('outbox_projector', current_database(), 'CREATE')")"
check_eq "a CREATE TABLE as outbox_projector is refused (42501)" 42501 \
  "$(as "$OUTBOX_PG_READ" "CREATE TABLE public.least_privilege_probe (x int)")"
check_eq "outbox_projector still uses its tables" ok \
  "$(as "$OUTBOX_PG_READ" "SELECT count(*) FROM projector_dedup; SELECT count(*) FROM posts")"
finish
