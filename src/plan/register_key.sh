# Registering hpcinit's public key in ~/.ssh/authorized_keys on the cluster (bash). The key's
# line comes as the first argument; nothing here asks or prints a secret.

# Tags `key present` or `key absent` (is the line in authorized_keys?), then the home
# directory's mode line: sshd ignores keys in a home that others can write.
hpcinit_key_state() {
  if [ -f "$HOME"/.ssh/authorized_keys ] && grep -qxF "$1" "$HOME"/.ssh/authorized_keys; then
    hpcinit_tag key present
  else
    hpcinit_tag key absent
  fi
  hpcinit_tag home "$(ls -ld "$HOME")"
}

# Adds the line once: ~/.ssh 0700, authorized_keys 0600, a missing final newline added first.
# Then tags the home directory's mode line (as hpcinit_key_state does).
hpcinit_key_install() {
  umask 077
  mkdir -p "$HOME"/.ssh && chmod 700 "$HOME"/.ssh &&
    touch "$HOME"/.ssh/authorized_keys && chmod 600 "$HOME"/.ssh/authorized_keys || return 1
  if ! grep -qxF "$1" "$HOME"/.ssh/authorized_keys; then
    if [ -s "$HOME"/.ssh/authorized_keys ] && [ -n "$(tail -c 1 "$HOME"/.ssh/authorized_keys)" ]; then
      echo >>"$HOME"/.ssh/authorized_keys
    fi
    printf '%s\n' "$1" >>"$HOME"/.ssh/authorized_keys || return 1
  fi
  hpcinit_tag home "$(ls -ld "$HOME")"
}

# Removes group and other write permission from the home directory (asked first).
hpcinit_key_fix_home() {
  chmod go-w "$HOME"
}
