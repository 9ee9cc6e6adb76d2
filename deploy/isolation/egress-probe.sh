#!/usr/bin/env bash
# Probe 8 of the network-isolation suite (Mode 2): only agents reaches the outside. From inside each
# application container (`docker compose exec`), a TCP connection to probe-outside:7070, a listener
# on the `egress` network only, standing in for an LLM provider, MCP server or web.fetch host.
# agents must connect; every other service must fail to (no route, no name). The data services have
# no Node to run this with; probe 7 covers them (the attacker container sits on `internal` only, as
# they do, and must not reach probe-outside either). Each service first runs a control command, so a
# container that is not running cannot pass as "refused".
#
#   COMPOSE="docker compose -f deploy/compose.yml -f deploy/isolation/compose.probes.yml" \
#     deploy/isolation/egress-probe.sh
#
# (.github/workflows/isolation.yml runs exactly this.) Exit 0 when every check passes, 1 otherwise.
set -u
: "${COMPOSE:?set COMPOSE to the docker compose command of the stack}"
# exit 0: connected; 3: refused, unreachable, unresolvable or timed out
CONNECT="const s=require('node:net').connect(7070,'probe-outside');s.setTimeout(3000,()=>process.exit(3));s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(3))"
fail=0
printf '%-8s %-14s %-14s %s\n' service expected observed verdict
for svc in auth gateway chat files agents; do
  if [ "$svc" = agents ]; then expected=connects; else expected=no-route; fi
  if ! $COMPOSE exec -T "$svc" node -e 'process.exit(0)' >/dev/null 2>&1; then
    observed=not-running
  else
    $COMPOSE exec -T "$svc" node -e "$CONNECT" >/dev/null 2>&1
    case $? in 0) observed=connects ;; 3) observed=no-route ;; *) observed=error ;; esac
  fi
  if [ "$observed" = "$expected" ]; then verdict=PASS; else verdict=FAIL; fail=1; fi
  printf '%-8s %-14s %-14s %s\n' "$svc" "$expected" "$observed" "$verdict"
done
exit $fail
