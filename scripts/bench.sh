#!/usr/bin/env bash
# `make bench`: prints the figures the issues set targets for. Never a pass/fail test: these
# machines are shared and noisy, so read the numbers.
#   1. fleet engine: poll 1,000 simulated Supervisors x 8 services into the model vs a bare client;
#      and a bad night (300 hung Supervisors, 20 normal): time to a full first view, staleness
#   2. dashboard: the home page for that 1,000-host fleet under 50 concurrent clients (wrk) vs a
#      truly trivial route of the same server (a static file: no store, no session lookup); every
#      response must be a 2xx and the session must be signed in, or the benchmark fails
#   2b. guarded actions: the audit rows' cost per action against the executor call alone (SQLite
#      and Postgres), and a simulated restart from confirmation to healthy, split
#   3. what a browser downloads, counted by Chromium from an empty cache: the dashboard's first
#      load (everything, headers included) and second load, and what each other page's first
#      visit by a link adds (its chunk and data)
#   4. the shard console: one small query over 128 shards as the runbook's psql loop, as one psql
#      session and through Onwatch's API (medians, ratios); the server's peak memory around a
#      query that runs into its caps; the guard's property test with 20,000 generated statements
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/onwatch/target}
# The test set-up: Postgres for the audit and console figures.
scripts/bootstrap.sh test >/dev/null
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
# The same invocation as `make demo`, so the two share their release build.
cargo build --release --locked -p server --bin onwatch -p fleet-sim --bin fleet-sim
scripts/build-site.sh release >/dev/null


# `scripts/bench.sh SECTION…` runs only those sections (fleet, actions, bad-night, dashboard,
# console, logs), for working on one figure; `make bench` runs them all.
SECTIONS=" $* "
want() { [ "$SECTIONS" = "  " ] || [[ "$SECTIONS" == *" $1 "* ]]; }
WORK=$(mktemp -d)
# /metrics needs the scrape token (or a signed-in responder): every Onwatch started here reads
# the same token file, and every scrape sends it, as the team's Prometheus would.
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$WORK/metrics-token"
export ONWATCH_METRICS__TOKEN_FILE="$WORK/metrics-token"
METRICS_AUTH="Authorization: Bearer $(cat "$WORK/metrics-token")"
cleanup() { kill "${SIM:-}" "${OW:-}" "${SSHD_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# The simulator binds 2,000 ephemeral ports of its own: its control port comes from below that range.
free_low_port() { python3 -c '
import random, socket
while True:
    p = random.randrange(20000, 32000); s = socket.socket()
    try: s.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass
'; }
# Waits for a state the run needs (checked every 0.2 s, for at most $1 s), and stops the run with
# the logs if it never comes: a guessed pause would measure whatever state happened to be there.
wait_for() { # $1: seconds, $2: what is awaited, then the command that succeeds once it is there
  local secs=$1 what=$2; shift 2
  for _ in $(seq 1 $(( secs * 5 ))); do "$@" && return 0; sleep 0.2; done
  echo "bench: $what: not reached in $secs s" >&2
  tail -n 20 "$WORK"/*.log >&2 2>/dev/null || true
  exit 1
}
# Onwatch's own fleet metrics, summed over the series whose labels match $2 (a regex).
metric_sum() {
  curl -sf -H "$METRICS_AUTH" "$BASE/metrics" | awk -v m="$1" -v f="$2" \
    'index($1, m "{") == 1 && $1 ~ f { s += $2 } END { print s + 0 }'
}
now() { date +%s.%N; }
since() { python3 -c "print(f'{$(now) - $1:.1f}')"; }

if want fleet; then
echo
echo "== fleet engine"
cargo bench --locked -p ops --bench poll 2>"$WORK/cargo-bench.log" ||
  { tail -n 40 "$WORK/cargo-bench.log" >&2; exit 1; }

fi
if want actions; then
echo
echo "== guarded actions"
ONWATCH_TEST_PG_URL=$(scripts/pg-test-cluster.sh start) cargo bench --locked -p ops --bench audit 2>"$WORK/cargo-bench.log" ||
  { tail -n 40 "$WORK/cargo-bench.log" >&2; exit 1; }

fi
if want bad-night; then
echo
echo "== a bad night: 300 Supervisors that never answer, 20 normal ones"
# The fleet of issue #13: 290 Supervisors accept a connection and never answer, 10 do not even
# accept, 20 answer normally (8 services each). Onwatch runs as in production (release binary,
# default fleet options: 1 s interval, 3 s host timeout, stale after 15 s). Measured from the
# moment its process starts: when the 20 normal hosts first show, when all 320 are decided
# (reachable or unreachable with a reason: the full first view), then 30 s sampled every 0.2 s
# from its own /metrics: the share of samples in which any service of a normal host showed stale,
# and the oldest "last seen" of a reachable host. Before (issue #13, one barrier per round):
# normal hosts first appeared after 18 s, rounds took 15 s, healthy hosts turned stale six times
# in 200 s, up to 24 s old. Left out: real network latency; the hung hosts here are loopback.
CONTROL=$(free_low_port)
"$CARGO_TARGET_DIR/release/fleet-sim" --layout synthetic --hosts 320 --services 8 --control-port "$CONTROL" \
  --fleet-file "$WORK/hung.toml" >"$WORK/fleet-sim-hung.log" 2>&1 &
SIM=$!
wait_for 10 "the simulator's fleet file" test -s "$WORK/hung.toml"
for i in $(seq 0 299); do
  f=hang; [ "$i" -lt 10 ] && f=no_accept
  curl -sf -X POST "http://127.0.0.1:$CONTROL/faults" -d "{\"host\":\"$(printf host-%04d "$i")\",\"fault\":\"$f\"}" >/dev/null
done
PORT=$(free_low_port)
BASE="http://127.0.0.1:$PORT"
T0=$(now)
ONWATCH_SERVER__LISTEN=127.0.0.1:$PORT ONWATCH_STORE__URL="sqlite://$WORK/hung.db" \
ONWATCH_INVENTORY__SOURCE=static ONWATCH_INVENTORY__FLEET_FILE="$WORK/hung.toml" ONWATCH_AUTH__DEV_SIGNIN=true RUST_LOG=warn \
  "$CARGO_TARGET_DIR/release/onwatch" serve >"$WORK/onwatch-hung.log" 2>&1 &
OW=$!
wait_for 20 "Onwatch answering /healthz" curl -sf -o /dev/null "$BASE/healthz"
normal_shown() { [ "$(metric_sum onwatch_fleet_hosts 'reachability="reachable"')" -eq 20 ]; }
wait_for 30 "the 20 normal hosts shown" normal_shown
NORMAL_AT=$(since "$T0")
all_decided() {
  normal_shown && [ "$(metric_sum onwatch_fleet_hosts 'reachability="unreachable"')" -eq 300 ]
}
wait_for 30 "all 320 hosts decided" all_decided
FULL_AT=$(since "$T0")
samples=0 stale=0 worst=0
for _ in $(seq 1 150); do
  m=$(curl -sf -H "$METRICS_AUTH" "$BASE/metrics") || { echo "bench: /metrics failed while sampling" >&2; exit 1; }
  read -r n_stale n_reach oldest < <(awk '
    index($1, "onwatch_fleet_services{") == 1 && $1 ~ /state="stale"/ { s += $2 }
    index($1, "onwatch_fleet_hosts{") == 1 && $1 ~ /reachability="reachable"/ { r += $2 }
    index($1, "onwatch_fleet_oldest_seen_seconds{") == 1 && $2 > o { o = $2 }
    END { print s + 0, r + 0, o + 0 }' <<<"$m")
  samples=$((samples + 1))
  # A normal host that is not reachable in a sample counts as not fresh too.
  if [ "$n_stale" -gt 0 ] || [ "$n_reach" -ne 20 ]; then stale=$((stale + 1)); fi
  worst=$(python3 -c "print(max($worst, $oldest))")
  sleep 0.2
done
echo "  normal hosts first shown ${NORMAL_AT} s after start (before: 18 s; target: within 2 s)"
echo "  full first view (all 320 decided) ${FULL_AT} s after start (a hung host is decided by its 3 s timeout)"
echo "  samples in which a normal host showed stale or not reachable: $stale of $samples ($(python3 -c "print(f'{100*$stale/$samples:.1f}')") %)"
echo "  oldest last-seen of a reachable host over the $samples samples: ${worst} s (interval 1 s, stale after 15 s; before: up to 24 s)"
kill ${SIM:-} ${OW:-} 2>/dev/null || true; wait ${SIM:-} ${OW:-} 2>/dev/null || true
fi
if want dashboard; then

echo
echo "== dashboard under load"
CONTROL=$(free_low_port)
"$CARGO_TARGET_DIR/release/fleet-sim" --layout synthetic --hosts 1000 --services 8 --control-port "$CONTROL" \
  --fleet-file "$WORK/fleet.toml" >"$WORK/fleet-sim.log" 2>&1 &
SIM=$!
wait_for 10 "the simulator's fleet file" test -s "$WORK/fleet.toml"
PORT=$(free_low_port)
ONWATCH_SERVER__LISTEN=127.0.0.1:$PORT ONWATCH_STORE__URL="sqlite://$WORK/onwatch.db" \
ONWATCH_INVENTORY__SOURCE=static ONWATCH_INVENTORY__FLEET_FILE="$WORK/fleet.toml" \
ONWATCH_FLEET__POLL_CONCURRENCY=128 ONWATCH_AUTH__DEV_SIGNIN=true RUST_LOG=warn \
  "$CARGO_TARGET_DIR/release/onwatch" serve >"$WORK/onwatch.log" 2>&1 &
OW=$!
BASE="http://127.0.0.1:$PORT"
wait_for 20 "Onwatch answering /healthz" curl -sf -o /dev/null "$BASE/healthz"
# Measured once Onwatch has seen every host answer (its own metrics say so), not after a pause.
all_polled() { [ "$(metric_sum onwatch_fleet_hosts 'reachability="reachable"')" -eq 1000 ]; }
wait_for 60 "every one of the 1,000 hosts polled" all_polled
# The dashboard needs a session: sign in once (development sign-in) and send its cookie with
# every request. The trivial route is a static file of the built site, which the server answers
# without a store or session lookup: the floor of this server's per-request cost.
COOKIE=$(curl -s -o /dev/null -D - -H "Origin: $BASE" \
  --data "name=bench&role=viewer" "$BASE/auth/dev" |
  awk -F': ' 'tolower($1)=="set-cookie" {split($2, a, ";"); printf "%s; ", a[1]}')
# Signed in, or the dashboard figure would be a redirect's.
WHO=$(curl -s -H "Cookie: $COOKIE" -H "Origin: $BASE" -X POST "$BASE/api/read/shell-info" |
  python3 -c 'import json, sys; print((json.load(sys.stdin).get("signed_in") or {}).get("login", ""))')
[ "$WHO" = bench ] || { echo "bench: the session is not signed in (shell-info says '$WHO')" >&2; exit 1; }
TRIVIAL="$BASE/pkg/onwatch.css"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$TRIVIAL")" = 200 ] || { echo "bench: $TRIVIAL is not a 200" >&2; exit 1; }
# Every response counted by status: any that is not a 2xx fails the run (wrk itself counts
# only 4xx/5xx as errors, so a 303 to the sign-in page would pass unseen).
cat > "$WORK/count.lua" <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0; good = 0 end
function response(status, headers, body)
  if status >= 200 and status < 300 then good = good + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local g, b = 0, 0
  for _, t in ipairs(threads) do g = g + t:get("good"); b = b + t:get("bad") end
  io.write(string.format("STATUS good=%d bad=%d\n", g, b))
end
LUA
run() {
  local out
  out=$(wrk -t2 -c50 -d${2:-5}s --latency -s "$WORK/count.lua" -H "Cookie: $COOKIE" "$1")
  local bad
  bad=$(awk '/^STATUS/ {split($3, a, "="); print a[2]}' <<<"$out")
  if [ "${bad:-1}" != 0 ]; then echo "bench: $1 answered $bad responses that were not 2xx" >&2; exit 1; fi
  printf '%s\n' "$out"
}
parse() { # rps p50 p99 from wrk --latency output, latencies in ms
  awk 'function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
       /Requests\/sec/ {rps=$2} /^ +50%/ {p50=ms($2)} /^ +99%/ {p99=ms($2)} END {print rps, p50, p99}'
}
median() { sort -n -k"$2" "$1" | sed -n 2p | awk -v c="$2" '{print $c}'; }
# Warm both routes, then alternate them three times (5 s each) so that a burst of noise on this
# shared machine does not land on one route only; report the median of each figure.
measure() {
  local page chips bytes
  page=$(curl -s -H "Cookie: $COOKIE" "$BASE/")
  chips=$( (grep -o 'class="chip"' <<<"$page" || true) | wc -l)
  bytes=$(wc -c <<<"$page")
  run "$BASE/" 2 >/dev/null; run "$TRIVIAL" 2 >/dev/null
  : > "$WORK/d.txt"; : > "$WORK/t.txt"
  for _ in 1 2 3; do
    run "$BASE/" | parse >> "$WORK/d.txt"
    run "$TRIVIAL" | parse >> "$WORK/t.txt"
  done
  D_RPS=$(median "$WORK/d.txt" 1); D_P50=$(median "$WORK/d.txt" 2); D_P99=$(median "$WORK/d.txt" 3)
  T_RPS=$(median "$WORK/t.txt" 1); T_P50=$(median "$WORK/t.txt" 2); T_P99=$(median "$WORK/t.txt" 3)
  RATIO=$(python3 -c "t=float('${T_RPS:-0}' or 0); d=float('${D_RPS:-0}' or 0); print(f'{d/t:.2f}' if t else 'n/a')")
  echo "$1: dashboard page $bytes bytes (uncompressed), $chips chips drawn"
  printf "  %-28s %10s req/s   p50 %7.2f ms   p99 %7.2f ms\n" "GET / (dashboard)" "$D_RPS" "$D_P50" "$D_P99"
  printf "  %-28s %10s req/s   p50 %7.2f ms   p99 %7.2f ms\n" "GET /pkg/onwatch.css (trivial)" "$T_RPS" "$T_P50" "$T_P99"
  local verdict
  verdict=$(python3 -c "r='$RATIO'; p=float('${D_P99:-999}'); print(('ratio ' + ('met' if r != 'n/a' and float(r) >= 0.3 else 'MISSED')) + ', p99 ' + ('met' if p <= 30 else 'MISSED'))")
  echo "  throughput ratio dashboard/trivial: $RATIO (target >= 0.3); dashboard p99 target <= 30 ms; every response 2xx: $verdict"
}
echo "fleet: 1000 hosts x 8 services (fleet-sim), polled every second while measured; healthy hosts"
echo "are counted, not drawn, above 40 per environment. Both routes with a signed-in session cookie"
echo "(the trivial one ignores it); no Accept-Encoding, so the server's compression is not measured;"
echo "medians of 3 alternating 5 s runs each (wrk -t2 -c50, on the same 2 cores), after a warm-up."
measure "quiet night (every service healthy)"
# A bad night, so that the dashboard has something to draw: one host in 25 with a failing health
# check (critical or warning), one in 100 whose Supervisor does not answer.
fault() { curl -sf -X POST "http://127.0.0.1:$CONTROL/faults" -d "$1" >/dev/null; }
for i in $(seq 0 25 999); do
  status=Critical; [ $((i % 50)) -eq 25 ] && status=Warning
  fault "{\"host\":\"$(printf host-%04d "$i")\",\"fault\":\"health\",\"service\":\"svc-$((i % 8))\",\"status\":\"$status\"}"
done
for i in $(seq 7 100 999); do fault "{\"host\":\"$(printf host-%04d "$i")\",\"fault\":\"down\"}"; done
# Measured once the model shows the whole bad night, not after a pause that may be too short.
bad_night_seen() {
  [ "$(metric_sum onwatch_fleet_hosts 'reachability="unreachable"')" -ge 10 ] &&
    [ "$(metric_sum onwatch_fleet_services 'state="(critical|warning)"')" -ge 40 ]
}
wait_for 60 "the 10 silent Supervisors and 40 failing checks in the model" bad_night_seen
measure "bad night (40 failing health checks, 10 Supervisors not answering)"
# The dashboard's page is kept per person and fleet snapshot (server/src/page_cache.rs): one
# session flatters it, so the bad night again with 50 people, each request in turn another's
# session. Every person's page is drawn again at each new snapshot (about every second).
for i in $(seq 1 50); do
  curl -s -o /dev/null -D - -H "Origin: $BASE" --data "name=bench-$i&role=viewer" "$BASE/auth/dev" |
    awk -F': ' 'tolower($1)=="set-cookie" {split($2, a, ";"); printf "%s; ", a[1]}'
  echo
done > "$WORK/cookies.txt"
[ "$(grep -c onwatch_session "$WORK/cookies.txt")" = 50 ] || { echo "bench: 50 sessions were not all signed in" >&2; exit 1; }
{
  echo "local cookies = {"
  sed 's/.*/  "&",/' "$WORK/cookies.txt"
  echo "}"
  cat "$WORK/count.lua"
  cat <<'LUA'
local n = 0
function request()
  n = n + 1
  return wrk.format(nil, nil, { ["Cookie"] = cookies[(n % #cookies) + 1] })
end
LUA
} > "$WORK/people.lua"
PAGES_BEFORE=$(metric_sum onwatch_page_cache_total 'result="miss"')
out=$(wrk -t2 -c50 -d5s --latency -s "$WORK/people.lua" "$BASE/")
bad=$(awk '/^STATUS/ {split($3, a, "="); print a[2]}' <<<"$out")
[ "${bad:-1}" = 0 ] || { echo "bench: 50 people: $bad responses were not 2xx" >&2; exit 1; }
read -r P_RPS P_P50 P_P99 < <(parse <<<"$out")
DRAWN=$(( $(metric_sum onwatch_page_cache_total 'result="miss"') - PAGES_BEFORE ))
P_RATIO=$(python3 -c "print(f'{float(\"$P_RPS\")/float(\"$T_RPS\"):.2f}')")
printf "  %-28s %10s req/s   p50 %7.2f ms   p99 %7.2f ms   (pages drawn: %s, the rest sent as kept)\n" "GET / (50 people)" "$P_RPS" "$P_P50" "$P_P99" "$DRAWN"
echo "  throughput ratio, 50 people / trivial (the trivial route's median above): $P_RATIO (target >= 0.3)"
echo
echo "== what a browser downloads (the dashboard of this 1,000-host fleet, as served)"
# Measured by Chromium with an empty cache (end2end/bench-load.mjs): every byte of the first load,
# headers included, then what each other page's first visit adds. It exits non-zero if any
# response was not a success, and so does this run.
(cd end2end && node bench-load.mjs "$BASE" \
  /environments /environments/live /environments/live/hosts/host-0000 /releases /broken \
  /services /services/api /actions /audit /console /incidents /oncall /onboarding /settings \
  /admin/sessions)
RAW=$(stat -c %s target/site/pkg/onwatch.wasm)
GZ=$(gzip -9 -c target/site/pkg/onwatch.wasm | wc -c)
JS=$(stat -c %s target/site/pkg/onwatch.js)
JSGZ=$(gzip -9 -c target/site/pkg/onwatch.js | wc -c)
echo
echo "== hydrate bundle (release, wasm-opt -Oz)"
echo "  onwatch.wasm: $RAW bytes raw, $GZ gzipped; onwatch.js: $JS raw, $JSGZ gzipped (target < 400 KB gzipped in all)"
echo "  release server binary: $(stat -c %s "$CARGO_TARGET_DIR/release/onwatch") bytes"

fi
if want console; then
echo
echo "== shard console: one small query over 128 shards, three ways"
# The runbook's question "how many origins in each shard?" over builder_originsrv's 128 shard
# schemas: (a) the runbook's bash loop, one psql process (connection, statement, exit) per
# shard; (b) one psql session running the 128 statements one after the other (the floor: one
# connection, no fan-out, no safety); (c) Onwatch end to end through its API, as the console
# page calls it: start the query on shards=all, then wait for its result (guard, audit rows
# before and after, 8 connections at once, each shard in its own BEGIN READ ONLY … ROLLBACK, the
# result kept for downloads). Each 5 times, medians; every answer checked (128 numbers, the
# same total each way) or the run fails. On a seeded copy of the builder datastore in a
# throwaway Postgres (trust authentication on loopback, so no password).
# The dashboard's simulator and Onwatch are done with.
kill ${SIM:-} ${OW:-} 2>/dev/null || true; wait ${SIM:-} ${OW:-} 2>/dev/null || true
PG_ADMIN=$(scripts/pg-test-cluster.sh start)
PG_PORT=${PG_ADMIN##*:}; PG_PORT=${PG_PORT%%/*}
"$CARGO_TARGET_DIR/release/fleet-sim" seed-datastore "$PG_ADMIN" bench >"$WORK/seed.log" 2>&1 ||
  { echo "bench: seeding the datastore failed: $(tail -n 1 "$WORK/seed.log")" >&2; exit 1; }
CONSOLE_DB=bench_builder_originsrv
PSQL=(psql -X -A -t -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U onwatch_ro -d "$CONSOLE_DB")
# 128 lines, each a number: their sum, or the run stops naming what came back.
counts_sum() { # $1: what, $2: file
  local lines numbers
  lines=$(wc -l < "$2"); numbers=$(grep -cxE '[0-9]+' "$2" || true)
  if [ "$lines" != 128 ] || [ "$numbers" != 128 ]; then
    echo "bench: $1: $lines lines, $numbers of them numbers (expected 128 numbers):" >&2
    head -n 5 "$2" >&2; exit 1
  fi
  awk '{ s += $1 } END { print s }' "$2"
}
loop_once() {
  for i in $(seq 0 127); do
    psql -X -A -t -h 127.0.0.1 -p "$PG_PORT" -U onwatch_ro -d "$CONSOLE_DB" -c "SELECT count(*) FROM shard_$i.origins"
  done > "$WORK/loop.out"
}
for i in $(seq 0 127); do echo "SELECT count(*) FROM shard_$i.origins;"; done > "$WORK/session.sql"
session_once() { "${PSQL[@]}" -f - < "$WORK/session.sql" > "$WORK/session.out"; }
: > "$WORK/loop.t"; : > "$WORK/session.t"
for _ in 1 2 3 4 5; do
  t0=$(now); loop_once; python3 -c "print($(now) - $t0)" >> "$WORK/loop.t"
  LOOP_SUM=$(counts_sum "the psql loop" "$WORK/loop.out")
  t0=$(now); session_once; python3 -c "print($(now) - $t0)" >> "$WORK/session.t"
  SESSION_SUM=$(counts_sum "the psql session" "$WORK/session.out")
  [ "$LOOP_SUM" = "$SESSION_SUM" ] ||
    { echo "bench: the psql loop counted $LOOP_SUM origins, the session $SESSION_SUM" >&2; exit 1; }
done
median5() { sort -g "$1" | sed -n 3p; }

# Onwatch: the release server on this datastore (no fleet), signed in as a responder.
PORT=$(free_low_port)
BASE="http://127.0.0.1:$PORT"
cat > "$WORK/console.toml" <<TOML
[server]
listen = "127.0.0.1:$PORT"

[store]
url = "sqlite://$WORK/console.db"

[inventory]
source = "none"

[auth]
dev_signin = true

[environments.live]
production = true

[environments.live.databases.builder_originsrv]
url = "postgres://onwatch_ro@127.0.0.1:$PG_PORT/$CONSOLE_DB"
TOML
RUST_LOG=warn "$CARGO_TARGET_DIR/release/onwatch" --config "$WORK/console.toml" serve >"$WORK/onwatch-console.log" 2>&1 &
OW=$!
wait_for 20 "Onwatch answering /healthz" curl -sf -o /dev/null "$BASE/healthz"
COOKIE=$(curl -s -o /dev/null -D - -H "Origin: $BASE" \
  --data "name=bench&role=responder" "$BASE/auth/dev" |
  awk -F': ' 'tolower($1)=="set-cookie" {split($2, a, ";"); printf "%s; ", a[1]}')
ROLE=$(curl -s -H "Cookie: $COOKIE" -H "Origin: $BASE" -X POST "$BASE/api/read/shell-info" |
  python3 -c 'import json, sys; print((json.load(sys.stdin).get("signed_in") or {}).get("role", ""))')
[ "$ROLE" = responder ] || { echo "bench: the session is not signed in as a responder (shell-info says '$ROLE')" >&2; exit 1; }
# One query through the API, timed from the start request to the result: prints the seconds
# and the result's figures as JSON, or fails naming the answer that was not a success.
cat > "$WORK/console_client.py" <<'PY'
import http.client, json, sys, time, urllib.parse
port, cookie, origin, sql, expect = sys.argv[1:6]
def fail(why):
    print(f"bench: console via Onwatch: {why}", file=sys.stderr)
    sys.exit(1)
def call(conn, path, fields):
    conn.request("POST", path, urllib.parse.urlencode(fields), {
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
        "Cookie": cookie, "Origin": origin})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        fail(f"{path} answered {r.status}: {body[:300]!r}")
    try:
        return json.loads(body)
    except ValueError:
        fail(f"{path} answered what is not JSON: {body[:300]!r}")
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=300)
t0 = time.perf_counter()
started = call(conn, "/api/attempt/console-start",
               {"environment": "live", "database": "builder_originsrv", "shards": "all", "sql": sql})
if "Started" not in started:
    fail(f"the query did not start: {json.dumps(started)[:300]}")
result = call(conn, "/api/read/console-result", {"id": started["Started"]["id"], "wait": "true"})
secs = time.perf_counter() - t0
state, total = result.get("state"), result.get("total_rows")
out = {"secs": secs, "state": state, "total_rows": total, "truncated": result.get("truncated"),
       "failed": [s for s in result.get("shards", []) if s.get("state") == "failed"][:3]}
if state != expect:
    fail(f"state {state!r}, expected {expect!r}: {json.dumps(out)[:500]}")
if expect == "complete":
    rows = result.get("rows", [])
    cells = [r[1][0] if len(r) == 2 and len(r[1]) == 1 else None for r in rows]
    if total != 128 or len(rows) != 128 or sorted(r[0] for r in rows) != list(range(128)) \
            or not all(isinstance(c, str) and c.isdigit() for c in cells):
        fail(f"expected one number from each of the 128 shards: total_rows {total}, {len(rows)} rows, first {rows[:3]}")
    out["sum"] = sum(int(c) for c in cells)
print(json.dumps(out))
PY
COUNT_SQL="SELECT count(*) FROM origins"
console_run() { python3 "$WORK/console_client.py" "$PORT" "$COOKIE" "$BASE" "$1" "$2"; }
field() { python3 -c "import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
# The first query connects the pool and reads the database's layout: the cold figure.
COLD=$(console_run "$COUNT_SQL" complete)
: > "$WORK/onwatch.t"
for _ in 1 2 3 4 5; do
  R=$(console_run "$COUNT_SQL" complete)
  [ "$(field "$R" sum)" = "$LOOP_SUM" ] ||
    { echo "bench: Onwatch counted $(field "$R" sum) origins, psql $LOOP_SUM" >&2; exit 1; }
  field "$R" secs >> "$WORK/onwatch.t"
done
python3 - "$(median5 "$WORK/loop.t")" "$(median5 "$WORK/session.t")" "$(median5 "$WORK/onwatch.t")" "$(field "$COLD" secs)" "$LOOP_SUM" <<'PY'
import sys
loop, session, onwatch, cold = map(float, sys.argv[1:5])
ms = lambda s: f"{s * 1000:8.1f} ms"
print(f"  SELECT count(*) FROM shard_N.origins on 128 shards ({sys.argv[5]} origins in all, the same each way); medians of 5 runs:")
print(f"  (a) the runbook's loop, 128 psql processes   {ms(loop)}")
print(f"  (b) one psql session, 128 statements         {ms(session)}")
print(f"  (c) Onwatch, start → result through its API  {ms(onwatch)}   (first, cold run: {ms(cold).strip()})")
print(f"  loop / Onwatch: {loop / onwatch:.1f}x (target >= 20x: {'met' if loop / onwatch >= 20 else 'MISSED'}); "
      f"Onwatch / one session: {onwatch / session:.2f}x (target <= 1.5x: {'met' if onwatch / session <= 1.5 else 'MISSED'})")
print("  left out: the browser's rendering of the grid; (c) is with the pool warm (its connections")
print("  open, the layout read), the cold run above is the first query after Onwatch started")
PY

# Memory: a query that would return 10 million rows on every shard runs into the caps
# (rows_per_shard 1,000 as a LIMIT, rows_total 20,000, 16 MiB) and must not grow the server by
# more than what it keeps.
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$OW/status"; }
HWM_BEFORE=$(hwm)
BIG=$(console_run "SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 10000000) g" truncated)
HWM_AFTER=$(hwm)
python3 - "$HWM_BEFORE" "$HWM_AFTER" "$BIG" <<'PY'
import json, sys
before, after, big = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
print("  peak server memory (VmHWM) around a query that would return 10 million rows from each shard")
print(f"  (default caps: 1,000 rows per shard, 20,000 in all, 16 MiB): before {before / 1024:.1f} MiB, "
      f"after {after / 1024:.1f} MiB, growth {(after - before) / 1024:.1f} MiB")
print(f"    the query ended {big['state']} in {big['secs']:.2f} s with {big['total_rows']} rows kept: "
      + "; ".join(big.get("truncated") or []))
PY
kill "$OW" 2>/dev/null || true; wait "$OW" 2>/dev/null || true

echo
echo "== the console's guard, longer: generated statements, every accepted one run on a seeded copy"
# The property test of make test (400 cases) with 20,000: nothing the guard accepts may change
# the datastore (a checksum of every table, sequence and catalog count, before and after).
GUARD_LOG="$WORK/guard.log"
if command -v cargo-nextest >/dev/null; then
  GUARD=(cargo nextest run --locked -p ops --test console -E 'test(nothing_the_guard)' --no-capture)
else
  GUARD=(cargo test --locked -p ops --test console -- nothing_the_guard --nocapture)
fi
if ONWATCH_TEST_PG_URL=$(scripts/pg-test-cluster.sh start) ONWATCH_GUARD_CASES=20000 "${GUARD[@]}" >"$GUARD_LOG" 2>&1; then
  echo "  $(grep -E 'generated, [0-9]+ accepted' "$GUARD_LOG" | tail -n 1): the datastore's checksum unchanged"
else
  echo "bench: the guard's property test FAILED:" >&2
  grep -E 'generated|panicked|assert|FAIL|error' "$GUARD_LOG" | tail -n 20 >&2
  exit 1
fi

fi
if want logs; then
echo
echo "== host logs: lines per second from sshd, through Onwatch, against plain ssh"
# An earlier section's simulator and Onwatch (when the console section, which stops them, did not
# run) must not poll 1,000 hosts on the same cores while this is measured.
kill ${SIM:-} ${OW:-} 2>/dev/null || true; wait ${SIM:-} ${OW:-} 2>/dev/null || true
# One million log lines (the command prints them and ends) from a loopback sshd, two ways in one
# run: (a) `ssh host 'seq …' > /dev/null`, the floor; (b) through Onwatch's log stream (SSH,
# line splitting and parsing, the bounded queue, server-sent events carrying the lines waiting
# in one event) to a client reading as fast as it can (curl, standing in for a browser; no
# rendering). Onwatch's rate bound is raised to 10,000,000 lines/s here (the default, 2,000, is
# for people), so (b) measures the pipeline; the queue is the default (2,048 lines): when it is
# full the watch holds the host back (SSH flow control) for up to 2 s, then drops lines, which
# Onwatch counts and which do not count as throughput. Every line must be accounted for and the
# stream must end because the command did, or the run fails. Medians of 5; the server's VmHWM
# at rest and after each run (flat: it must not grow with the lines streamed).
LOG_LINES=1000000
SSHD_DIR="$WORK/sshd"; SSHD_PORT=$(free_port)
scripts/loopback-sshd.sh setup "$SSHD_DIR" "$SSHD_PORT"
/usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_config" 2>"$WORK/sshd.log" & SSHD_PID=$!
wait_for 10 "sshd listening" bash -c "exec 2>/dev/null 3<>/dev/tcp/127.0.0.1/$SSHD_PORT"
SSH_USER=$(id -un)
PORT=$(free_low_port); BASE="http://127.0.0.1:$PORT"
cat > "$WORK/logs.toml" <<TOML
[server]
listen = "127.0.0.1:$PORT"
site_root = "target/site"
[store]
url = "sqlite://$WORK/logs.db"
[auth]
dev_signin = true
[logs]
lines_per_sec = 10000000
[environments.live]
production = true
[environments.live.ssh]
user = "$SSH_USER"
port = $SSHD_PORT
key_file = "$SSHD_DIR/client_ed25519"
known_hosts_file = "$SSHD_DIR/known_hosts"
[environments.live.ssh.commands]
supervisor_log = "seq 1 $LOG_LINES # {args}"
# The sentinel's host needs no inventory: the bench's log host.
[sentinel]
environment = "live"
host = "bench-log-host"
address = "127.0.0.1"
TOML
"$CARGO_TARGET_DIR/release/onwatch" --config "$WORK/logs.toml" serve >"$WORK/logs-ow.log" 2>&1 & OW=$!
wait_for 20 "Onwatch answering /healthz" curl -sf -o /dev/null "$BASE/healthz"
LOG_COOKIE=$(curl -s -o /dev/null -D - -H "Origin: $BASE" --data "name=bench&role=viewer" "$BASE/auth/dev" |
  awk -F': ' 'tolower($1)=="set-cookie" {split($2, a, ";"); printf "%s; ", a[1]}')
SSH_CMD=(ssh -q -i "$SSHD_DIR/client_ed25519" -o UserKnownHostsFile="$SSHD_DIR/known_hosts" -o BatchMode=yes -p "$SSHD_PORT" "$SSH_USER@127.0.0.1")
log_hwm() { awk '/VmHWM/ {print $2}' "/proc/$OW/status"; }
LOG_HWM_BEFORE=$(log_hwm)
: > "$WORK/ssh.t"; : > "$WORK/ow.t"; : > "$WORK/ow.n"; : > "$WORK/ow.hwm"
for _ in 1 2 3 4 5; do
  t0=$(now); "${SSH_CMD[@]}" "seq 1 $LOG_LINES" > "$WORK/ssh.out"; python3 -c "print($(now) - $t0)" >> "$WORK/ssh.t"
  [ "$(wc -l < "$WORK/ssh.out")" = "$LOG_LINES" ] || { echo "bench: ssh gave $(wc -l < "$WORK/ssh.out") lines" >&2; exit 1; }
  t0=$(now)
  curl -sN -H "Cookie: $LOG_COOKIE" -H "Sec-Fetch-Site: same-origin" "$BASE/api/logs/live/bench-log-host/events?source=supervisor&lines=0" > "$WORK/ow.out"
  python3 -c "print($(now) - $t0)" >> "$WORK/ow.t"
  # Lines come in batches (`event: lines`, a JSON array of the lines waiting): count them, and
  # check that each is the host's own line, in order (a gap in `seq` is dropped lines).
  got=$(python3 -c "
import json, sys
n = 0; ev = None; last = 0
for l in open(sys.argv[1]):
    if l.startswith('event: '): ev = l[7:].strip()
    elif l.startswith('data: ') and ev == 'lines':
        for line in json.loads(l[6:]):
            if line['text'] != str(line['seq']) or line['seq'] <= last:
                sys.exit(f'bench: line {line} after seq {last}')
            last = line['seq']; n += 1
print(n)" "$WORK/ow.out")
  dropped=$(awk '/^event: dropped/ {getline; sub(/^data: /, ""); s += $0} END {print s + 0}' "$WORK/ow.out")
  ended=$(grep -A1 '^event: ended' "$WORK/ow.out" | tail -n 1)
  # Every line accounted for (forwarded, or dropped and said), and the stream ended because
  # the command did, or the line fails.
  if [ $((got + dropped)) -lt "$LOG_LINES" ] || [ "$ended" != "data: the log command ended" ]; then
    echo "bench: Onwatch forwarded $got and counted $dropped dropped of $LOG_LINES lines; it ended: $ended" >&2
    exit 1
  fi
  echo "$got $dropped" >> "$WORK/ow.n"
  log_hwm >> "$WORK/ow.hwm"
done
python3 - "$WORK/ssh.t" "$WORK/ow.t" "$LOG_LINES" "$LOG_HWM_BEFORE" "$WORK/ow.hwm" "$WORK/ow.n" <<'PY'
import statistics, sys
ssh = statistics.median(float(x) for x in open(sys.argv[1]))
ow_t = [float(x) for x in open(sys.argv[2])]
n, before = int(sys.argv[3]), int(sys.argv[4])
hwm = [int(x) for x in open(sys.argv[5])]
runs = len(ow_t)
counts = [tuple(int(v) for v in l.split()) for l in open(sys.argv[6])]
# Delivered lines per second, run by run (a dropped line is not throughput).
rates = [got / t for (got, _), t in zip(counts, ow_t)]
ow_rate = statistics.median(rates)
dropped = sum(d for _, d in counts)
print(f"  {n:,} lines, medians of {runs} runs:")
print(f"  (a) ssh host 'seq …' > /dev/null          {n / ssh:>12,.0f} lines/s ({ssh:.2f} s)")
print(f"  (b) through Onwatch's log stream to curl   {ow_rate:>12,.0f} lines/s delivered "
      f"({statistics.median(ow_t):.2f} s; {dropped:,} of {runs * n:,} lines dropped by the bounds, each counted)")
ratio = ow_rate / (n / ssh)
print(f"  Onwatch / ssh: {ratio:.2f} of plain ssh's throughput (target: keep >= 0.8: {'met' if ratio >= 0.8 else 'MISSED'})")
print(f"  server memory (VmHWM): {before / 1024:.1f} MiB at rest; after each run of a million lines: "
      + ", ".join(f"{h / 1024:.1f}" for h in hwm) + " MiB")
print("  left out: the browser's parsing and drawing (the page keeps 2,000 lines); journalctl itself")
PY
kill "$OW" "$SSHD_PID" 2>/dev/null || true; wait "$OW" "$SSHD_PID" 2>/dev/null || true
fi
