#!/usr/bin/env bash
# MariaDB container healthcheck with the interface kolla-ansible calls:
#   healthcheck.sh --defaults-file FILE --connect --galera_online
# (the subset of MariaDB's own healthcheck.sh that Kolla uses). Each test option
# runs in order; the script fails on the first failing test.
set -u

defaults=()
tests=()
while [ $# -gt 0 ]; do
    case "$1" in
        --defaults-file=*|--defaults-extra-file=*) defaults=("$1") ;;
        --defaults-file|--defaults-extra-file) defaults=("$1=$2"); shift ;;
        --connect|--galera_online|--innodb_initialized) tests+=("${1#--}") ;;
        --su=*|--su-mysql|--no-defaults) ;;
        *) echo "healthcheck.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

sql() {
    mariadb "${defaults[@]}" --skip-column-names --batch --connect-timeout=10 -e "$1"
}

status_var() {
    sql "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='$1'"
}

for t in "${tests[@]}"; do
    case "$t" in
        connect)
            sql 'SELECT 1' >/dev/null || { echo "healthcheck: cannot connect" >&2; exit 1; } ;;
        galera_online)
            # 4 = Synced; empty when the server runs without wsrep (single node)
            state=$(status_var WSREP_LOCAL_STATE) || exit 1
            if [ -n "$state" ] && [ "$state" != 4 ]; then
                echo "healthcheck: galera state $state, not Synced (4)" >&2; exit 1
            fi ;;
        innodb_initialized)
            [ "$(sql "SELECT 1 FROM information_schema.ENGINES WHERE ENGINE='InnoDB' AND SUPPORT IN ('YES','DEFAULT')")" = 1 ] \
                || { echo "healthcheck: InnoDB not initialized" >&2; exit 1; } ;;
    esac
done
exit 0
