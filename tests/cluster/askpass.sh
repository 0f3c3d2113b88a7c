#!/usr/bin/env bash
# SSH_ASKPASS for the test cluster: answers ssh's own prompts as a person would type them.
# The password prompt gets the test user's password; a one-time-code prompt gets the TOTP
# code for the next unused 30-second step (pam_oath refuses a replayed code); Duo's menu gets
# `1` (a push). Every prompt is
# appended to $HPCINIT_ASKPASS_LOG, so tests can count how often a person was asked.
# Needs HPCINIT_CLUSTER_DIR (or the default) to read cluster.env.
set -euo pipefail
D=${HPCINIT_CLUSTER_DIR:-/tmp/hpcinit-cluster}
# shellcheck disable=SC1091
. "$D/cluster.env"
prompt=${1:-}
log=${HPCINIT_ASKPASS_LOG:-/dev/null}
printf '%s\n' "$prompt" | tr -d '\r' | head -1 >>"$log"
case "$prompt" in
  *"Login request denied."* | *"Login timed out."* | *"Invalid passcode"*)
    # Duo's menu again after a refusal: a person who denied the push gives up here (closes
    # the dialog), as one who did not start the sign-in should.
    echo "askpass: Duo refused; giving up" >&2
    exit 1
    ;;
  *"Passcode or option"*)
    # Duo's menu (the stand-in pam_duo): `1` sends a push, or a passcode ($HPCINIT_ASKPASS_DUO).
    # With HPCINIT_ASKPASS_DUO_ONCE, a person who answers Duo once and gives up after that.
    if [ -n "${HPCINIT_ASKPASS_DUO_ONCE:-}" ] && [ "$(grep -c "Duo two-factor login" "$log")" -gt 1 ]; then
      echo "askpass: Duo asked again; giving up" >&2
      exit 1
    fi
    printf '%s\n' "${HPCINIT_ASKPASS_DUO:-1}"
    ;;
  *[Oo]ne-time* | *OATH* | *[Vv]erification* | *[Cc]ode*)
    state=${HPCINIT_ASKPASS_STATE:-$D/mfa/askpass-last-step}
    exec 9>>"$state.lock"
    flock 9
    now=$(($(date +%s) / 30))
    last=$(cat "$state" 2>/dev/null || echo 0)
    step=$((now > last ? now : last + 1))
    echo "$step" >"$state"
    oathtool --totp -N "@$((step * 30))" "$HPCINIT_TOTP_SECRET"
    ;;
  *[Pp]assword* | *[Pp]assphrase*)
    printf '%s\n' "${HPCINIT_ASKPASS_PASSWORD:-$HPCINIT_TEST_PASSWORD}"
    ;;
  *)
    echo "askpass: unexpected prompt: $prompt" >&2
    exit 1
    ;;
esac
