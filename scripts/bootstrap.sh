#!/usr/bin/env bash
# Prepare a fresh Debian/Ubuntu machine for the rig: system packages (apt, only
# when missing), a virtualenv in .venv/ with the project installed editable, and
# DCC's npm tools (duis-sign-wrap needs Java) in tools/npm/node_modules.
# Idempotent: a second run does nothing but check.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }

# --- system packages --------------------------------------------------------
# command-or-file  debian-package
wanted=(
  "/usr/sbin/mosquitto mosquitto"
  "mosquitto_sub mosquitto-clients"
  "/usr/sbin/sshd openssh-server"
  "ssh openssh-client"
  "ssh-keygen openssh-client"
  "ip iproute2"
  "node nodejs"
  "npm npm"
  "java default-jre-headless"
  "tshark tshark"
  "setpriv util-linux"
  "/usr/bin/python3 python3"
)
missing=()
for pair in "${wanted[@]}"; do
  probe=${pair% *}; pkg=${pair#* }
  if [[ $probe == /* ]]; then [[ -x $probe ]] && continue
  else command -v "$probe" >/dev/null 2>&1 && continue; fi
  [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
done

PY=""
for cand in python3.13 python3.12 python3.11 python3; do
  if command -v "$cand" >/dev/null 2>&1 \
     && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PY=$cand; break
  fi
done
if [[ -z $PY ]]; then missing+=(python3.11); PY=python3.11; fi
if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=("$(basename "$PY")-venv")
fi
# virtual nodes, like Pis, build their virtualenv with the system's python3
if [[ -x /usr/bin/python3 ]] && ! /usr/bin/python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  [[ " ${missing[*]} " == *" python3-venv "* ]] || missing+=(python3-venv)
fi

if ((${#missing[@]})); then
  say "installing system packages: ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"
    else echo "bootstrap: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- virtualenv -------------------------------------------------------------
if [[ ! -x .venv/bin/python ]]; then
  say "creating virtualenv .venv with $PY"
  "$PY" -m venv .venv
fi
stamp=.venv/.rig-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  say "installing the project (editable) and its test tools into .venv"
  .venv/bin/python -m pip install -q --upgrade pip "setuptools>=77" wheel >/dev/null
  .venv/bin/python -m pip install -q -e '.[controller,dev]'
  touch "$stamp"
fi
# --- DCC's npm tools (external DUIS clients for the interop tests) --------------
npmdir=tools/npm
if [[ ! -d $npmdir/node_modules || $npmdir/package-lock.json -nt $npmdir/node_modules ]]; then
  say "installing DCC's DUIS tools from npm into $npmdir"
  (cd "$npmdir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$npmdir/node_modules"
fi
# the DUIS schema DCC ships inside duis-sign-wrap's signing tool: the gateway validates
# with it when DCC's 5.4 schema (../shared/vectors) is not beside the checkout
if [[ ! -d $npmdir/xsd ]]; then
  .venv/bin/python - "$npmdir" <<'PY'
import sys, zipfile, pathlib
npm = pathlib.Path(sys.argv[1])
jar = npm / "node_modules/@smartdcc/duis-sign-wrap/dist/tool.jar"
out = npm / "xsd"
with zipfile.ZipFile(jar) as z:
    for name in z.namelist():
        if name.endswith((".xsd", ".dtd")) and "/" not in name:
            z.extract(name, out)
PY
fi
say "ready: $(.venv/bin/python --version), $(/usr/sbin/mosquitto -h 2>/dev/null | head -1), node $(node --version), $(java -version 2>&1 | head -1)"
