# Sourced by the scripts: installs pinned Python tools into a virtual
# environment under $LATCHKEY_TOOLS_DIR (default .tools), again only when
# the requirements file changes.
#
#   venv=$(tools_venv NAME REQUIREMENTS PROGRAM)   # PROGRAM: one it must provide

step() { printf '\n==> %s\n' "$*" >&2; }

# Where cargo puts build output (CARGO_TARGET_DIR or the workspace's target/).
cargo_target_dir() {
  cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

tools_venv() {
  local name=$1 requirements=$2 program=$3
  local venv="${LATCHKEY_TOOLS_DIR:-.tools}/$name"
  case "$venv" in /*) ;; *) venv="$PWD/$venv" ;; esac
  local stamp="$venv/.requirements.sha256" wanted
  wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
  if [ ! -x "$venv/bin/$program" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    step "installing pinned tools ($requirements) into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" || return 1
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2 || return 1
    echo "$wanted" > "$stamp"
  fi
  echo "$venv"
}
