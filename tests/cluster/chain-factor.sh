#!/bin/sh
# Test cluster only (installed by tests/cluster/up.sh as /usr/local/libexec/hpcinit-test-chain):
# lets the "chain" sshd ask for two factors in two SSH methods, as sites with
# `AuthenticationMethods password,keyboard-interactive publickey,keyboard-interactive` do.
# sshd runs the same PAM stack for the `password` method and for `keyboard-interactive`, so
# this marks the connection whose first factor passed (the password through pam_unix, or a
# registered key offered through AuthorizedKeysCommand); the keyboard-interactive round of that
# connection then asks for the one-time code. A mark names the connection's sshd process (the
# parent of whatever runs PAM or the key command) and is used once.
#   first            after pam_unix accepted the password (pam_exec)
#   second           succeeds when this connection's first factor passed (pam_exec)
#   keys USER FP     AuthorizedKeysCommand (the chain sshd's only source of keys): prints USER's
#                    authorized_keys, and marks the connection when FP is among them
set -u
dir=/run/hpcinit-test-chain
mkdir -p "$dir" 2>/dev/null
case "${1:-}" in
  first)
    : >"$dir/first.$PPID"
    ;;
  second)
    p=$PPID
    for _ in 1 2 3; do
      if [ -f "$dir/first.$p" ]; then
        rm -f "$dir/first.$p"
        exit 0
      fi
      p=$(ps -o ppid= -p "$p" | tr -d ' ')
      [ -n "$p" ] || break
    done
    exit 1
    ;;
  keys)
    file=$(getent passwd "$2" | cut -d: -f6)/.ssh/authorized_keys
    if ssh-keygen -lf "$file" 2>/dev/null | awk '{print $2}' | grep -qxF "$3"; then
      : >"$dir/first.$PPID"
    fi
    cat "$file"
    ;;
  *)
    exit 1
    ;;
esac
exit 0
