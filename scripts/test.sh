#!/usr/bin/env bash
# Runs every check and every test: formatting, cfn-lint on template.yaml,
# clippy, the Lambda binaries' dependency check, and `cargo test` for the
# whole workspace (unit, handler, store-contract and end-to-end suites, the
# AWS ones on moto_server, which the tests start themselves).
#
# Needs only the Rust toolchain and Python 3 with pip: the pinned Python
# tools (scripts/requirements-test.txt) are installed into a virtual
# environment under $LATCHKEY_TOOLS_DIR (default: .tools) on first run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

tools_dir=${LATCHKEY_TOOLS_DIR:-.tools}
venv="$tools_dir/venv"
case "$venv" in /*) ;; *) venv="$PWD/$venv" ;; esac
requirements=scripts/requirements-test.txt
stamp="$venv/.requirements.sha256"
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/moto_server" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  step "installing pinned test tools into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  echo "$wanted" > "$stamp"
fi
export MOTO_SERVER="$venv/bin/moto_server"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cfn-lint template.yaml"
"$venv/bin/cfn-lint" template.yaml

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "Lambda binaries do not link the local adapters"
if cargo tree -p latchkey-functions -e normal --prefix none | grep -E '^(redb|lettre) '; then
  echo "latchkey-functions depends on a local-only crate (above); keep it behind the 'local' feature" >&2
  exit 1
fi

step "cargo test --workspace (RS256, the default)"
cargo test --workspace

step "the HTTP suites again with ES256 (local key and KMS on moto)"
# Named with --workspace (not -p latchkey-tests) so features unify as in
# the run above and nothing is compiled again.
suites=()
for file in tests/tests/*.rs; do
  suites+=(--test "$(basename "$file" .rs)")
done
LATCHKEY_TEST_SIGNING_ALGORITHM=ES256 cargo test --workspace "${suites[@]}"
