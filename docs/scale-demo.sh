#!/usr/bin/env bash
# scale-demo: two memcached-lite servers behind twemproxy (nutcracker, md5
# ketama) on loopback ports, a few commands through the proxy with the client
# subcommand, then where each key landed; everything stops at the end.
# docs/scale-demo.md explains what it shows.
#
#   docs/scale-demo.sh [BIN [PROXY_PORT [STATS_PORT [SERVER_PORT...]]]]
#
# Each argument left out comes from the environment, then the default:
#   BIN          MEMCACHED_LITE  bin/memcached-lite (make scale-demo builds it)
#   PROXY_PORT   SCALE_PROXY     22201, where twemproxy listens
#   STATS_PORT   SCALE_STATS     22202, twemproxy's stats port
#   SERVER_PORT  SCALE_SERVERS   "22211 22212", one memcached-lite each
# NUTCRACKER names the twemproxy binary (default: nutcracker on PATH, else
# /usr/sbin/nutcracker).
set -euo pipefail

bin=${1:-${MEMCACHED_LITE:-bin/memcached-lite}}
proxy=${2:-${SCALE_PROXY:-22201}}
stats=${3:-${SCALE_STATS:-22202}}
if [ $# -gt 3 ]; then
  servers=("${@:4}")
else
  read -r -a servers <<<"${SCALE_SERVERS:-22211 22212}"
fi
nutcracker=${NUTCRACKER:-$(command -v nutcracker || echo /usr/sbin/nutcracker)}

dir=$(mktemp -d)
pids=()
cleanup() {
  st=$?
  set +e
  [ ${#pids[@]} -eq 0 ] || { kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; }
  rm -rf "$dir"
  exit $st
}
trap cleanup EXIT

# up waits until the server or proxy at $1 answers version.
up() {
  local i=0
  until "$bin" client -s "$1" --timeout 200ms version >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 100 ] || { echo "$1 did not come up:"; cat "$dir"/*.log; exit 1; } >&2
    sleep 0.1
  done
}

conf="$dir/nutcracker.yml"
backends=()
printf 'demo:\n  listen: 127.0.0.1:%s\n  hash: md5\n  distribution: ketama\n  auto_eject_hosts: false\n  servers:\n' \
  "$proxy" >"$conf"
for p in "${servers[@]}"; do
  "$bin" server -l 127.0.0.1 -p "$p" --data "$dir/$p.db" 2>"$dir/server-$p.log" &
  pids+=($!)
  printf '   - 127.0.0.1:%s:1\n' "$p" >>"$conf"
  backends+=(-s "127.0.0.1:$p")
done
"$nutcracker" -c "$conf" -a 127.0.0.1 -s "$stats" -o "$dir/nutcracker.log" -p "$dir/nutcracker.pid" &
pids+=($!)
for p in "${servers[@]}" "$proxy"; do up "127.0.0.1:$p"; done

echo "== nutcracker.yml"
cat "$conf"
echo "== through twemproxy: memcached-lite client -s 127.0.0.1:$proxy COMMAND"
for c in 'set user:1 alice' 'set user:2 bob' 'set user:3 carol' 'set user:4 dave' 'set visits 0' \
  'incr visits' 'incr visits 10' 'get user:1 user:2 user:3 user:4 visits' 'delete user:4' 'get user:4'; do
  echo "> $c"
  # shellcheck disable=SC2086 # each command is split into its words
  "$bin" client -s "127.0.0.1:$proxy" $c || true
done
echo "== where the client's ketama puts each key: memcached-lite client ${backends[*]} servers ..."
"$bin" client "${backends[@]}" servers user:1 user:2 user:3 visits
for p in "${servers[@]}"; do
  echo "== asking 127.0.0.1:$p directly: get user:1 user:2 user:3 visits"
  "$bin" client -s "127.0.0.1:$p" get user:1 user:2 user:3 visits
done
echo "== stats through twemproxy, which does not forward it"
"$bin" client -s "127.0.0.1:$proxy" stats || true
