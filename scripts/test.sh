#!/usr/bin/env bash
# Runs every check and every test: formatting, cfn-lint on template.yaml,
# clippy, the Lambda binaries' dependency check, and `cargo test` for the
# whole workspace (unit, handler, store-contract and end-to-end suites, the
# AWS ones on moto_server, which the tests start themselves), and the pages
# in headless Chromium; then schemathesis fuzzes local-api with openapi.yaml
# (scripts/fuzz.sh).
#
# Needs the Rust toolchain, Python 3 with pip, and Node with npm: the pinned
# Python tools (scripts/requirements-test.txt) are installed into a virtual
# environment under $LATCHKEY_TOOLS_DIR (default: .tools) on first run, the
# pinned playwright-core into tests/browser/node_modules, and Debian's
# chromium with apt-get when it is missing (as root; otherwise install it).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/tools.sh
venv=$(tools_venv venv scripts/requirements-test.txt moto_server)
export MOTO_SERVER="$venv/bin/moto_server"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cfn-lint template.yaml"
"$venv/bin/cfn-lint" template.yaml

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "Lambda binaries link neither the local adapters, the test counters, nor a second crypto library"
if cargo tree -p latchkey-functions -e normal --prefix none | grep -E '^(redb|lettre|aws-lc-rs|aws-lc-sys|openssl-sys) '; then
  echo "latchkey-functions depends on a crate it must not (above): the local adapters stay behind the 'local' feature, and the AWS SDK's TLS is rustls on ring (latchkey::adapters::aws)" >&2
  exit 1
fi

if cargo tree -p latchkey-functions -e normal,features --prefix none | grep -E '^latchkey feature "(local|test-support)"'; then
  echo "the Lambda binaries enable a latchkey feature meant for local use or tests (above)" >&2
  exit 1
fi

step "cargo test --workspace (RS256, the default)"
cargo test --workspace

step "the token suites and the Lambda binaries again with ES256 (local key and KMS on moto)"
# Named with --workspace (not -p latchkey-tests) so features unify as in
# the run above and nothing is compiled again.
# The signing algorithm changes how access tokens are signed, published and
# verified, and nothing else: the suites about tokens (issued at sign-in
# and refresh, to service clients, forged, published, signed by KMS, and
# the whole journey, in-process and through the binaries) run with both;
# the flows' own suites run once, above (with 32 suites, all of them twice
# took a cold CI run to 39 of its 40 minutes).
suites=()
for name in keys forgeries kms_digest login sessions clients journey cold_start; do
  suites+=(--test "$name")
done
LATCHKEY_TEST_SIGNING_ALGORITHM=ES256 cargo test --workspace --test lambda_binaries "${suites[@]}"

step "browser test: the pages in headless Chromium (screenshots in tests/browser/screenshots/)"
chromium_bin=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium_bin" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    step "installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q chromium >/dev/null
  else
    echo "Chromium not found at $chromium_bin: install Debian's chromium (sudo apt-get install chromium) or set CHROMIUM" >&2
    exit 1
  fi
fi
npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
cargo build -p latchkey-local --bin local-api
LOCAL_API="$(cargo_target_dir)/debug/local-api" CHROMIUM="$chromium_bin" node tests/browser/journey.mjs

step "schemathesis: openapi.yaml against local-api"
./scripts/fuzz.sh
