#!/usr/bin/env bash
# The Salesforce CLI (@salesforce/cli) against the sandbox served with --tls.
# Environment (set by tests/interop/run.sh): SF (the sf binary), SANDBOX_URL, SANDBOX_DEMO, NODE_EXTRA_CA_CERTS,
# ADMIN_TOKEN. A private HOME keeps the CLI's auth files out of the user's ~/.sf.
# Prints one 'ok'/'FAIL' line per check; exit 1 on any failure.
set -uo pipefail
FAILED=0
export HOME=$(mktemp -d "${TMPDIR:-/tmp}/sayso-sf-home.XXXXXX")
trap 'rm -rf "$HOME"' EXIT
export SF_DISABLE_TELEMETRY=true SF_AUTOUPDATE_DISABLE=true SF_SKIP_NEW_VERSION_CHECK=true \
  SF_USE_GENERIC_UNIX_KEYCHAIN=true SF_DISABLE_AUTOUPDATE=true SF_CONTAINER_MODE=true
ok() { echo "ok    sf CLI: $*"; }
bad() { echo "FAIL  sf CLI: $*"; FAILED=1; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)" 2>/dev/null; }

t0=$(date +%s.%N)
out=$(SF_ACCESS_TOKEN=$ADMIN_TOKEN "$SF" org login access-token --instance-url "$SANDBOX_URL" --no-prompt --alias box --json 2>&1)
user=$(echo "$out" | json "d['result']['username']")
if [ "$user" = "admin@demo.sayso.dev" ]; then ok "org login access-token ($user)"; else bad "org login access-token: $(echo "$out" | head -c 400)"; fi

out=$("$SF" data query -o box -q "SELECT Id, Name, StageName FROM Opportunity WHERE Name = 'Project Titan'" --json 2>&1)
id=$(echo "$out" | json "d['result']['records'][0]['Id']")
stage=$(echo "$out" | json "d['result']['records'][0]['StageName']")
if [ -n "$id" ]; then ok "data query (Project Titan $id, $stage)"; else bad "data query: $(echo "$out" | head -c 400)"; fi

out=$("$SF" data query -o box -q "SELECT Id, Name FROM Account" --result-format csv 2>&1)
rows=$(echo "$out" | grep -c '^001')
if [ "$rows" -gt 10 ]; then ok "data query --result-format csv ($rows accounts)"; else bad "data query csv: $(echo "$out" | head -c 400)"; fi

out=$("$SF" data query -o box -q "SELECT COUNT() FROM Opportunity" --json 2>&1)
n=$(echo "$out" | json "d['result']['totalSize']")
if [ -n "$n" ] && [ "$n" -gt 0 ]; then ok "data query COUNT() ($n)"; else bad "data query COUNT(): $(echo "$out" | head -c 400)"; fi

if [ -n "$id" ]; then
  out=$("$SF" data update record -o box -s Opportunity -i "$id" -v "StageName='Negotiation/Review' Description='set by sf CLI'" --json 2>&1)
  st=$(echo "$out" | json "d['status']")
  after=$("$SF" data query -o box -q "SELECT StageName, Description FROM Opportunity WHERE Id = '$id'" --json 2>&1 \
    | json "d['result']['records'][0]['StageName'] + '|' + d['result']['records'][0]['Description']")
  if [ "$st" = 0 ] && [ "$after" = "Negotiation/Review|set by sf CLI" ]; then ok "data update record --record-id ($after)"
  else bad "data update record: status $st, after '$after': $(echo "$out" | head -c 400)"; fi
fi

out=$("$SF" data update record -o box -s Opportunity -w "Name='Project Titan'" -v "NextStep='call back'" --json 2>&1)
after=$("$SF" data query -o box -q "SELECT NextStep FROM Opportunity WHERE Name = 'Project Titan'" --json 2>&1 | json "d['result']['records'][0]['NextStep']")
if [ "$after" = "call back" ]; then ok "data update record --where"; else bad "data update record --where: '$after' $(echo "$out" | head -c 400)"; fi

out=$("$SF" data get record -o box -s Account -w "Name='Acme Corp'" --json 2>&1)
name=$(echo "$out" | json "d['result']['Name']")
if [ "$name" = "Acme Corp" ]; then ok "data get record --where"; else bad "data get record: $(echo "$out" | head -c 400)"; fi

out=$("$SF" org login jwt --client-id sayso-cli --jwt-key-file "$SANDBOX_DEMO/keys/demo-jwt.key" \
  --username dana.reyes@demo.sayso.dev --instance-url "$SANDBOX_URL" --alias dana --json 2>&1)
user=$(echo "$out" | json "d['result']['username']")
mine=$("$SF" data query -o dana -q "SELECT COUNT() FROM Opportunity" --json 2>&1 | json "d['result']['totalSize']")
if [ "$user" = "dana.reyes@demo.sayso.dev" ] && [ -n "$mine" ] && [ -n "$n" ] && [ "$mine" -lt "$n" ]; then
  ok "org login jwt (demo key) as Dana; she sees $mine of $n opportunities"
else bad "org login jwt: user '$user', count '$mine': $(echo "$out" | head -c 400)"; fi

out=$("$SF" org display -o box --json 2>&1)
conn=$(echo "$out" | json "d['result']['connectedStatus']")
if [ "$conn" = "Connected" ]; then ok "org display (connectedStatus $conn)"; else bad "org display: connectedStatus '$conn'"; fi

echo "sf CLI: $(python3 -c "import time; print('%.1f' % (time.time() - $t0))")s for the checks above"
exit $FAILED
