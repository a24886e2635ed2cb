#!/usr/bin/env bash
# Fuzzes local-api (debug build, embedded store) with openapi.yaml:
# schemathesis generates valid and invalid requests for every operation and
# fails on any 5xx, an undocumented status code or content type, or a body
# that does not match its schema.
#
#   ./scripts/fuzz.sh [extra schemathesis options, e.g. --max-examples 50]
set -euo pipefail
cd "$(dirname "$0")/.."
extra=("$@")
source scripts/tools.sh

venv=$(tools_venv fuzz tests/fuzz/requirements.txt st)

step "cargo build (local-api, latchkey-admin)"
cargo build --quiet -p latchkey-local --bins
bin="$(cargo_target_dir)/debug"

data=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT

export FUZZ_LOGIN=fuzz-admin@example.com
# A throwaway password for a throwaway data folder.
FUZZ_PASSWORD="fuzz $(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')"
export FUZZ_PASSWORD
printf '%s\n' "$FUZZ_PASSWORD" |
  "$bin/latchkey-admin" --data-dir "$data" users create --email "$FUZZ_LOGIN" --role admin >/dev/null
# The account the first run deletes.
leaving=fuzz-leaving@example.com
printf '%s\n' "$FUZZ_PASSWORD" |
  "$bin/latchkey-admin" --data-dir "$data" users create --email "$leaving" >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Fuzzed sign-ins fail by the hundred, some with the fuzzer's own login:
# throttling (tested on its own in tests/tests/throttling.rs) would soon
# refuse the fuzzer's own sign-in, so it is lifted for this run, and so is
# the registration limit (tests/tests/registration.rs), which the fuzzer's
# thousands of registrations would reach at once.
LOGIN_FAILURE_LIMIT_PER_IP=1000000/60 LOGIN_FAILURES_BEFORE_DELAY=1000000 \
  LOGIN_ACCOUNT_FAILURES_BEFORE_DELAY=1000000 \
  REGISTRATION_LIMIT_PER_IP=1000000/60 NO_COLOR=1 \
  "$bin/local-api" --port "$port" --data-dir "$data" >"$data/local-api.log" 2>&1 &
server=$!
python3 - "$port" <<'PY' || { cat "$data/local-api.log" >&2; exit 1; }
import sys, time, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/status").read()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit("local-api did not start")
PY

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
fuzz() {
  local config=$1
  shift
  "$venv/bin/st" --config-file "$config" run openapi.yaml \
    --url "http://127.0.0.1:$port" --checks "$checks" --max-redirects 0 \
    --suppress-health-check all --warnings off "$@" || {
    echo "local-api's log (the last lines):" >&2
    tail -n 50 "$data/local-api.log" >&2
    cp "$data/local-api.log" "${TMPDIR:-/tmp}/latchkey-fuzz-local-api.log"
    echo "(all of it: ${TMPDIR:-/tmp}/latchkey-fuzz-local-api.log)" >&2
    exit 1
  }
}
# Deleting an account ends it, and sign-out ends the fuzzer's session: the
# token either holds would answer 401 to everything after. So the deletion
# runs first, as an account of its own signed in before any other run: the
# main run signs in as an admin, and schemathesis carries values it reads
# in responses into later requests, so account ids from the admin search
# reach the admin operations that disable, delete or sign out an account;
# an account left for after that run could be gone by then. Sign-out runs
# last.
step "schemathesis: account deletion"
FUZZ_DELETION_TOKEN=$(python3 - "$port" "$leaving" <<'PY'
import json, os, sys, urllib.request
request = urllib.request.Request(
    f"http://127.0.0.1:{sys.argv[1]}/v1/auth/login",
    data=json.dumps({"login": sys.argv[2], "password": os.environ["FUZZ_PASSWORD"]}).encode(),
    headers={"content-type": "application/json"},
)
print(json.load(urllib.request.urlopen(request))["access_token"])
PY
)
export FUZZ_DELETION_TOKEN
fuzz tests/fuzz/deletion.toml --include-operation-id deleteAccount "${extra[@]}"
step "schemathesis against local-api on port $port (every operation but account deletion and logout)"
fuzz tests/fuzz/schemathesis.toml --exclude-operation-id logout \
  --exclude-operation-id deleteAccount "${extra[@]}"
step "schemathesis: logout"
fuzz tests/fuzz/schemathesis.toml --include-operation-id logout "${extra[@]}"
