#!/usr/bin/env bash
# Makes the class accounts hpcuser01 … hpcuserNN on hpcinit's test cluster (run as root, after
# tests/cluster/up.sh): each with the test password, a home under $HPCINIT_CLUSTER_DIR/home
# holding the test user's .bashrc (modules, Slurm, the wheelhouse), its scratch linked from
# ~/scratch and an empty ~/.ssh/authorized_keys. Idempotent; every account is recorded for
# tests/cluster/down.sh, which removes them. Used by bench/class.sh.
set -euo pipefail
n=${1:?usage: class-users.sh N}
D=${HPCINIT_CLUSTER_DIR:-/tmp/hpcinit-cluster}
# shellcheck disable=SC1091
. "$D/cluster.env"
[ "$(id -u)" -eq 0 ] || { echo "class-users: run as root" >&2; exit 1; }
for i in $(seq -w 1 "$n"); do
  [ "${#i}" -ge 2 ] || i="0$i"
  u="hpcuser$i"
  home="$D/home/$u"
  if ! id "$u" >/dev/null 2>&1; then
    useradd --home-dir "$home" --create-home --shell /bin/bash "$u"
    echo "$u:$HPCINIT_TEST_PASSWORD" | chpasswd
    grep -qxF "user $u" "$D/added-by-harness" || echo "user $u" >>"$D/added-by-harness"
  fi
  mkdir -p "$home/.ssh" "$D/scratch/$u"
  cp "$D/home/$HPCINIT_TEST_USER/.bashrc" "$D/home/$HPCINIT_TEST_USER/.bash_profile" "$home/"
  [ -e "$home/scratch" ] || ln -s "$D/scratch/$u" "$home/scratch"
  touch "$home/.ssh/authorized_keys"
  chmod 700 "$home/.ssh" && chmod 600 "$home/.ssh/authorized_keys"
  chown -hR "$u:$u" "$home" "$D/scratch/$u"
done
echo "class-users: hpcuser01 … hpcuser$(printf %02d "$n") ready"
