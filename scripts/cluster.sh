#!/usr/bin/env bash
# A local Pixa cluster: N replicas (default 3) of the five services in pod mode, each replica on
# its own set of ports, sharing one database and one object store, behind HAProxy on one public
# port (TCP mode, health checks on each replica's gateway /readyz) — the same shape as the
# Kubernetes deployment, on one machine.
#
#   scripts/cluster.sh [--replicas N] [--port PUBLIC_PORT] [--base-port BASE] [--dir RUN_DIR]
#
# Database: PIXA_DATABASE_URL, else PIXA_TEST_MYSQL_URL, else PIXA_TEST_POSTGRES_URL (MariaDB/MySQL or
# PostgreSQL; the replicas must share it). Object store: PIXA_STORAGE_URL, else a directory in the
# run dir (a shared directory is a shared store for processes on one machine).
# Replica r runs gateway, auth, storage, storage-monitor, usage-monitor on BASE+10r+0..4; HAProxy's
# statistics page (CSV: /;csv) is on BASE+10N.
# Logs and pid files: RUN_DIR/replica-<r>/<service>.{log,pid}; HAProxy: RUN_DIR/haproxy.*.
# Prints "cluster ready: http://127.0.0.1:PORT" when every replica is ready; Ctrl-C or SIGTERM stops all.
set -euo pipefail

replicas=3
public_port=8090
base_port=9100
run_dir=.tmp/cluster
while [[ $# -gt 0 ]]; do
  case "$1" in
    --replicas) replicas=$2; shift 2 ;;
    --port) public_port=$2; shift 2 ;;
    --base-port) base_port=$2; shift 2 ;;
    --dir) run_dir=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cluster: unknown option $1" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
services=(gateway auth storage storage-monitor usage-monitor)
port_vars=(PIXA_GATEWAY_PORT PIXA_AUTH_PORT PIXA_STORAGE_PORT PIXA_STORAGE_MONITOR_PORT PIXA_USAGE_MONITOR_PORT)

if ! command -v haproxy >/dev/null; then
  echo "cluster: haproxy is not installed (Debian: apt-get install -y haproxy)" >&2
  exit 3
fi
database_url=${PIXA_DATABASE_URL:-${PIXA_TEST_MYSQL_URL:-${PIXA_TEST_POSTGRES_URL:-}}}
if [[ -z "$database_url" || "$database_url" == sqlite:* ]]; then
  echo "cluster: set PIXA_DATABASE_URL (or PIXA_TEST_MYSQL_URL / PIXA_TEST_POSTGRES_URL) to a MariaDB/MySQL or PostgreSQL database the replicas share" >&2
  exit 3
fi
if [[ ! -f "$root/dist/cli/pixa.js" ]]; then
  (cd "$root" && npm run build:server)
fi

mkdir -p "$run_dir"
run_dir=$(cd "$run_dir" && pwd)
secret() { node -e "process.stdout.write(require('node:crypto').randomBytes(32).toString('base64url'))"; }
export PIXA_MODE=pod
export PIXA_DATABASE_URL=$database_url
export PIXA_STORAGE_URL=${PIXA_STORAGE_URL:-file://$run_dir/objects}
# Every replica must share both secrets: a token signed by one is checked by another.
export PIXA_AUTH_SECRET_KEY=${PIXA_AUTH_SECRET_KEY:-$(secret)}
export PIXA_INTERNAL_TOKEN=${PIXA_INTERNAL_TOKEN:-$(secret)}
export PIXA_HOST=127.0.0.1
export PIXA_INTERNAL_HOST=127.0.0.1
export PIXA_SHUTDOWN_GRACE_SECONDS=${PIXA_SHUTDOWN_GRACE_SECONDS:-20}
export PIXA_SWEEP_INTERVAL_MINUTES=${PIXA_SWEEP_INTERVAL_MINUTES:-0}
export PIXA_SIGNUP_PER_HOUR=${PIXA_SIGNUP_PER_HOUR:-0}

pids=()
stop() {
  local status=${1:-0}
  trap - INT TERM EXIT
  echo "cluster: stopping" >&2
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  exit "$status"
}
trap 'stop 0' INT TERM
trap 'stop $?' EXIT

# One migration before fifteen processes start, instead of fifteen racing for the lock.
node "$root/bin/pixa.js" migrate
export PIXA_AUTO_MIGRATE=false

servers=""
for ((r = 0; r < replicas; r++)); do
  dir="$run_dir/replica-$r"
  mkdir -p "$dir"
  for i in "${!services[@]}"; do export "${port_vars[$i]}=$((base_port + 10 * r + i))"; done
  for i in "${!services[@]}"; do
    service=${services[$i]}
    PIXA_DATA_DIR="$dir/data" node "$root/bin/pixa.js" serve --services "$service" >"$dir/$service.log" 2>&1 &
    pids+=($!)
    echo $! >"$dir/$service.pid"
  done
  servers+="  server replica-$r 127.0.0.1:$((base_port + 10 * r)) check"$'\n'
done

cat >"$run_dir/haproxy.cfg" <<EOF
global
  maxconn 4096

defaults
  mode tcp
  timeout connect 2s
  timeout client 300s
  timeout server 300s
  # A connection refused by a dead replica goes to another one.
  retries 3
  option redispatch

frontend pixa
  bind 127.0.0.1:$public_port
  default_backend gateways

listen stats
  mode http
  bind 127.0.0.1:$((base_port + 10 * replicas))
  stats enable
  stats uri /

backend gateways
  balance roundrobin
  option httpchk
  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost
  http-check expect status 200
  default-server inter 500ms fall 2 rise 2
$servers
EOF
haproxy -f "$run_dir/haproxy.cfg" -db >"$run_dir/haproxy.log" 2>&1 &
pids+=($!)
echo $! >"$run_dir/haproxy.pid"

# Ready when every replica's gateway says its services are reachable, HAProxy counts every replica
# up (so the first connections spread over all of them), and HAProxy passes requests.
stats_url="http://127.0.0.1:$((base_port + 10 * replicas))/;csv"
urls="http://127.0.0.1:$public_port/readyz"
for ((r = 0; r < replicas; r++)); do urls+=" http://127.0.0.1:$((base_port + 10 * r))/readyz"; done
# (The checker prints "ready": a fetch that HAProxy cuts off with no server up can leave node with
# nothing to wait for, and it would then exit 0 without having decided anything.)
checker='
  const [statsUrl, replicas, ...urls] = process.argv.slice(1);
  const allUp = () =>
    fetch(statsUrl, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.text())
      .then((csv) => csv.split("\n").filter((line) => /^gateways,replica-\d+,.*,UP,/.test(line)).length === Number(replicas))
      .catch(() => false);
  const deadline = Date.now() + 180_000;
  const keepAlive = setInterval(() => {}, 1000);
  const ok = (url) => fetch(url, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
  (async () => {
    while (Date.now() < deadline) {
      if ((await Promise.all([...urls.map(ok), allUp()])).every(Boolean)) {
        console.log("ready");
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    clearInterval(keepAlive);
  })();
'
# shellcheck disable=SC2086 # one argument per URL
if [[ $(node -e "$checker" "$stats_url" "$replicas" $urls) == ready ]]; then
  echo "cluster ready: http://127.0.0.1:$public_port ($replicas replicas, logs in $run_dir)"
  wait
  exit 0
fi
echo "cluster: not ready after 180 s; see $run_dir" >&2
exit 1
