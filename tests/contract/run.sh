#!/usr/bin/env bash
# Contract test for the JSON API: schemathesis reads /api/v1/openapi.json from a
# running doorcode, sends it generated requests (valid and invalid), and fails when
# an answer is a 5xx, or has a status, header, content type or body the document
# does not declare. Needs python3 and PyPI; everything goes under target/.
#
#   tests/contract/run.sh              # seed 1, 40 examples per operation
#   CONTRACT_SEED=7 CONTRACT_EXAMPLES=200 tests/contract/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

SCHEMATHESIS_VERSION=4.32.5
VENV=target/contract-venv
SEED=${CONTRACT_SEED:-1}
EXAMPLES=${CONTRACT_EXAMPLES:-40}

if ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
fi
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q " $SCHEMATHESIS_VERSION\$"; then
  echo "== installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

echo "== cargo build"
cargo build --quiet --bin doorcode

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"

# Dev mode (no SMTP: codes are printed to the log), CAPTCHA off, a fresh database,
# and limits high enough that the run is not all 429s.
echo "== starting doorcode on $base"
env DOORCODE_CONFIG=config/doorcode.toml \
  DOORCODE_SERVER_LISTEN="127.0.0.1:$port" \
  DOORCODE_SERVER_BASE_URL="$base" \
  DOORCODE_DATABASE_PATH="$work/doorcode.db" \
  DOORCODE_EMAIL_SMTP_URL= \
  DOORCODE_TURNSTILE_SITE_KEY= \
  DOORCODE_TURNSTILE_SECRET_KEY= \
  DOORCODE_CODE_RESEND_INTERVAL_SECS=0 \
  DOORCODE_RATE_LIMIT_EMAIL_PER_HOUR=1000000 \
  DOORCODE_RATE_LIMIT_IP_PER_HOUR=1000000 \
  DOORCODE_RATE_LIMIT_FAILURES_PER_EMAIL_PER_HOUR=1000000 \
  target/debug/doorcode serve >"$work/server.log" 2>&1 &
server=$!

# Wait for it, then sign in twice through the API (reading each code from the log,
# as dev mode prints it), so that the session routes are exercised with live
# tokens: one for signing out, one for the rest.
tokens=$("$VENV/bin/python" - "$base" "$work/server.log" <<'PY'
import json, re, sys, time, urllib.request

base, log = sys.argv[1], sys.argv[2]

def post(path, body):
    request = urllib.request.Request(
        base + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)

for _ in range(300):
    try:
        urllib.request.urlopen(base + "/healthz", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("doorcode did not start")

def sign_in():
    challenge = post("/api/v1/login", {"email": "contract@example.com"})["challenge_id"]
    for _ in range(100):
        # Dev mode logs each email; its subject starts with the code.
        text = open(log, encoding="utf-8", errors="replace").read()
        codes = re.findall(r"\b(\d{6}) is your ", text)
        if len(codes) > sign_in.seen:
            sign_in.seen = len(codes)
            break
        time.sleep(0.1)
    else:
        sys.exit("no code in the log")
    body = {"challenge_id": challenge, "code": codes[-1], "first_name": "Contract"}
    return post("/api/v1/login/verify", body)["token"]

sign_in.seen = 0
print(sign_in(), sign_in())
PY
) || { tail -n 40 "$work/server.log"; exit 1; }
read -r token sign_out_token <<<"$tokens"

# Every check, except positive_data_acceptance: it expects any schema-valid request
# to succeed, but a well-formed request for an unknown sign-in or with a wrong code
# is rightly a 400 (as in the browser flow). Signing out runs last, on its own, so
# that it does not end the token the other operations use.
echo "== schemathesis $SCHEMATHESIS_VERSION (seed $SEED, $EXAMPLES examples per operation)"
# Run from the temporary folder: schemathesis and hypothesis keep state in the
# working directory.
root=$PWD
schemathesis() {
  (cd "$work" && "$root/$VENV/bin/schemathesis" run "$base/api/v1/openapi.json" \
    --checks all \
    --exclude-checks positive_data_acceptance \
    --max-examples "$EXAMPLES" \
    --seed "$SEED" \
    --generation-database none \
    --request-timeout 10 \
    --no-color "$@")
}
status=0
schemathesis --header "Authorization: Bearer $token" \
  --exclude-operation-id sign_out || status=$?
schemathesis --header "Authorization: Bearer $sign_out_token" \
  --include-operation-id sign_out || status=$?

if grep -q "panicked" "$work/server.log"; then
  echo "contract: the server panicked:" >&2
  grep -A5 "panicked" "$work/server.log" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "contract: schemathesis found problems (exit $status); server log tail:" >&2
  tail -n 40 "$work/server.log" >&2
fi
exit "$status"
