#!/usr/bin/env bash
# The deploy build: `sam validate --lint` on template.yaml, then every Lambda
# binary cross-compiled for arm64 (Graviton) with cargo-lambda and zig.
# `sam build --beta-features` does the same per function for a deploy; this
# script needs no Docker and no AWS account.
#
#   scripts/deploy-build.sh           the release profile, as deployed (thin
#                                     LTO: a ~50 s link per binary)
#   scripts/deploy-build.sh --check   what CI runs: the arm64-check profile
#                                     (Cargo.toml), no per-binary LTO, which
#                                     proves every function cross-compiles
#                                     and links in a fraction of the time
#
# Installs its pinned tools (scripts/requirements-deploy.txt) into a venv
# under $LATCHKEY_TOOLS_DIR (default .tools) and the Rust target for arm64.
# Prints each binary's stripped size.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  "") profile=(--release) ;;
  --check) profile=(--profile arm64-check --disable-optimizations) ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

. scripts/tools.sh
venv=$(tools_venv deploy-venv scripts/requirements-deploy.txt cargo-lambda)
export PATH="$venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0

if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  step "adding the Rust target aarch64-unknown-linux-gnu"
  rustup target add aarch64-unknown-linux-gnu || {
    echo "could not add the arm64 standard library; run 'rustup target add aarch64-unknown-linux-gnu' where static.rust-lang.org is reachable" >&2
    exit 1
  }
fi

step "sam validate --lint"
sam validate --lint --region us-east-1

step "cargo lambda build ${profile[*]} --arm64 (every endpoint)"
started=$(date +%s)
cargo lambda build "${profile[@]}" --arm64 -p latchkey-functions
echo "built in $(( $(date +%s) - started )) s"

target_dir=$(cargo_target_dir)
step "arm64 bootstrap sizes (stripped)"
python3 - "$target_dir/lambda" functions/src/bin <<'PY'
import pathlib, struct, sys

lambda_dir, bins = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
expected = sorted(path.stem for path in bins.glob("*.rs"))
for name in expected:
    bootstrap = lambda_dir / name / "bootstrap"
    if not bootstrap.exists():
        sys.exit(f"no bootstrap for {name} in {lambda_dir}")
    header = bootstrap.read_bytes()[:20]
    (machine,) = struct.unpack_from("<H", header, 18)
    if header[:4] != b"\x7fELF" or machine != 183:  # EM_AARCH64
        sys.exit(f"{bootstrap} is not an arm64 ELF binary")
    print(f"{name:24} {bootstrap.stat().st_size / 2**20:6.1f} MB")
PY
