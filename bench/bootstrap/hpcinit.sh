#!/usr/bin/env bash
# hpcinit's route: the one command a person runs, every step checked and verified.
# Run by bench/bootstrap.sh with HOME set to a fresh laptop home and, in the environment:
#   ALIAS PROFILE RUSER PROJ NAME BIN, and STEPS_LOG (where its -v output goes)
# Prints the smoke job's log line last.
set -euo pipefail
cd "$PROJ"
# This laptop's home is $HOME, not the account's home that ssh reads its files from: every
# ssh, scp and rsync here reads $HOME/.ssh/config, as a person's own ssh reads theirs.
ssh() { command ssh -F "$HOME/.ssh/config" "$@"; }
scp() { command scp -F "$HOME/.ssh/config" "$@"; }
rsync() { command rsync -e "ssh -F $HOME/.ssh/config" "$@"; }
# -v: each step that reaches the cluster says its round trips and milliseconds (bench/bootstrap.sh
# tabulates them from $STEPS_LOG).
out=$("$BIN" --profile "$PROFILE" --site "$ALIAS" --user "$RUSER" --project-name "$NAME" \
  --yes --accept-new-host-key --no-passphrase --check-job -v) || { printf '%s\n' "$out" >&2; exit 1; }
if [ -n "${STEPS_LOG:-}" ]; then printf '%s\n' "$out" >"$STEPS_LOG"; fi
printf '%s\n' "$out" | grep -o 'hpcinit-check ok [^`]*'
ssh -O exit "$ALIAS" 2>/dev/null || true
