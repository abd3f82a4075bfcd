#!/bin/sh
# A stand-in agent for the compose fleet: every few seconds one chat call through its sidecar
# (same network namespace: loopback). A 429 is the team's shared budget refusing it.
set -u
while true; do
  status=$(curl -s -o /dev/null -w '%{http_code}' "$SIDECAR/openai/v1/chat/completions" \
    -H 'content-type: application/json' -H "authorization: Bearer $OPENAI_API_KEY" \
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Find a venue for the team offsite"}]}')
  echo "$AGENT_NAME: $status"
  sleep "${INTERVAL_S:-3}"
done
