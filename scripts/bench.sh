#!/usr/bin/env bash
# Benchmarks danbao against the machine's own limits, in one run
# (README.md, Performance):
#
#   scripts/bench.sh sqlite     # `make bench`: Go benchmarks of the hot paths, then a
#                               # load run on SQLite between two fdatasync measurements
#   scripts/bench.sh postgres   # `make bench-pg`: pgbench TPC-B, the load run on
#                               # PostgreSQL, pgbench again
#
# Settings (environment): BENCH_DURATION (load run, default 20s), BENCH_USERS
# (8), BENCH_MIX (escrow=1,authorize=2,topup=1,history=1), BENCH_HOT_DURATION
# (the uniform and hot-seller runs, default 10s; 0 skips them), BENCH_GO
# (0 skips the Go benchmarks), PGURL (the PostgreSQL server,
# default postgres://postgres@127.0.0.1:5432), BENCH_DB_PREFIX (scratch
# databases' name prefix, default danbao_bench). Every scratch database and
# directory is created here and dropped at exit. Exit status 1 when a load
# run fails (a ledger violation included).
set -euo pipefail

mode=${1:-sqlite}
duration=${BENCH_DURATION:-20s}
users=${BENCH_USERS:-8}
mix=${BENCH_MIX:-escrow=1,authorize=2,topup=1,history=1}
hot_duration=${BENCH_HOT_DURATION:-10s}
pgurl=${PGURL:-postgres://postgres@127.0.0.1:5432}
prefix=${BENCH_DB_PREFIX:-danbao_bench}
GO=${GO:-go}

cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/danbao-bench.XXXXXX")
dbs=()
cleanup() {
	for db in "${dbs[@]}"; do
		dropdb --if-exists -d "$pgurl/postgres" "$db" >/dev/null 2>&1 ||
			psql -q "$pgurl/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
$GO build -o "$work/danbao" .

# field NAME LINE: the value of NAME=value in a SUMMARY line.
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }

# load NAME ENV...: a load run of the danbao binary against a server it
# starts itself; prints its report and leaves its SUMMARY line in $summary.
load() {
	local name=$1 mixarg=$2 dur=$3
	shift 3
	echo "== load run ($name): -users $users -duration $dur -mix $mixarg"
	local out="$work/load-$name.txt"
	if ! env "$@" "$work/danbao" load -serve -users "$users" -duration "$dur" -mix "$mixarg" -settle-wait 60s >"$out" 2>&1; then
		cat "$out"
		echo "!!! load run $name FAILED"
		exit 1
	fi
	cat "$out"
	summary=$(grep '^SUMMARY' "$out")
}

hot_runs() {
	[ "$hot_duration" = 0 ] && return 0
	load uniform escrow=1 "$hot_duration" "$@"
	local uniform
	uniform=$(field payments_per_s "$summary")
	load hotseller hotseller=1 "$hot_duration" "$@"
	local hot
	hot=$(field payments_per_s "$summary")
	echo "== hot seller: $hot payments/s against $uniform uniform: ratio $(ratio "$hot" "$uniform") (target >= 0.8)"
}

case "$mode" in
sqlite)
	if [ "${BENCH_GO:-1}" != 0 ]; then
		echo "== Go benchmarks (SQLite; PostgreSQL too when DANBAO_TEST_DATABASE_URL is set)"
		$GO test -count=1 -run '^$' -bench . -benchtime "${BENCH_TIME:-300x}" ./internal/loadtest/
	fi
	data="$work/data"
	mkdir -p "$data"
	f1=$($GO run ./internal/tools/fsyncrate -dir "$data" -duration 3s)
	echo "== disk before: $f1 (in $data)"
	load main "$mix" "$duration" DANBAO_DATA_DIR="$data" DATABASE_URL=
	main=$summary
	f2=$($GO run ./internal/tools/fsyncrate -dir "$data" -duration 3s)
	echo "== disk after: $f2"
	fs=$(awk -v a="$(field fdatasync_per_s " $f1")" -v b="$(field fdatasync_per_s " $f2")" 'BEGIN { printf "%.0f", (a + b) / 2 }')
	pay=$(field payments_per_s "$main")
	all=$(field movements_per_s "$main")
	echo "== SQLite: $pay payments/s (authorizations + releases), $all money movements/s; fdatasync $fs/s"
	echo "== ratio to fdatasync: payments $(ratio "$pay" "$fs"), all movements $(ratio "$all" "$fs") (target >= 0.5)"
	echo "== authorize p99 $(field authorize_p99_ms "$main") ms, history p99 $(field history_p99_ms "$main") ms, server peak RSS $(field peak_rss_mib "$main") MiB, verify $(field verify "$main")"
	data2="$work/data-hot"
	mkdir -p "$data2"
	hot_runs DANBAO_DATA_DIR="$data2" DATABASE_URL=
	;;
postgres)
	pgb="${prefix}_pgbench"
	dan="${prefix}_load"
	dbs=("$pgb" "$dan" "${dan}_hot")
	for db in "${dbs[@]}"; do
		psql -q "$pgurl/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
		createdb -d "$pgurl/postgres" "$db" 2>/dev/null || psql -q "$pgurl/postgres" -c "CREATE DATABASE $db"
	done
	echo "== pgbench -i -s 10 ($pgb)"
	pgbench -i -s 10 -q "$pgurl/$pgb" 2>&1 | tail -1
	# Like for like: pgbench and danbao both connect without TLS (the
	# server is on loopback; TLS cost pgbench about a fifth of its rate here).
	tps() { pgbench -c 8 -j 2 -T 20 "$pgurl/$pgb?sslmode=disable" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1; }
	t1=$(tps)
	echo "== pgbench TPC-B before: $t1 tps (-c 8 -j 2 -T 20, sslmode=disable like danbao's connections)"
	load main "$mix" "$duration" DATABASE_URL="$pgurl/$dan?sslmode=disable" DANBAO_DATA_DIR="$work/pgdata"
	main=$summary
	t2=$(tps)
	echo "== pgbench TPC-B after: $t2 tps"
	t=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.0f", (a + b) / 2 }')
	pay=$(field payments_per_s "$main")
	all=$(field movements_per_s "$main")
	echo "== PostgreSQL: $pay payments/s (authorizations + releases), $all money movements/s; pgbench $t1 / $t2 tps (mean $t)"
	echo "== ratio to pgbench TPC-B: payments $(ratio "$pay" "$t"), all movements $(ratio "$all" "$t") (target >= 0.5)"
	echo "== authorize p99 $(field authorize_p99_ms "$main") ms, history p99 $(field history_p99_ms "$main") ms, server peak RSS $(field peak_rss_mib "$main") MiB, verify $(field verify "$main")"
	hot_runs DATABASE_URL="$pgurl/${dan}_hot?sslmode=disable" DANBAO_DATA_DIR="$work/pgdata"
	;;
*)
	echo "usage: scripts/bench.sh sqlite|postgres" >&2
	exit 2
	;;
esac
