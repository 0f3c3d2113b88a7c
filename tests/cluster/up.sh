#!/usr/bin/env bash
# Brings up hpcinit's test cluster on this machine (Debian, as root), idempotently:
#   - sshd "plain" on 127.0.0.1:$PLAIN_PORT: password and key login for the test user;
#   - sshd "mfa"   on 127.0.0.1:$MFA_PORT: keyboard-interactive password + TOTP (pam_oath),
#     Sigma2 style, logging every accepted authentication;
#   - sshd "chain" on 127.0.0.1:$CHAIN_PORT: a password or a key, then a one-time code, as two
#     SSH methods (`AuthenticationMethods password,keyboard-interactive publickey,…`);
#   - sshd "gateway" on 10.232.7.1:$GW_PORT (password and key), the same on $GW_MFA_PORT asking
#     its own one-time code, and a network namespace
#     ($LAPTOP_NS) that reaches the gateway but not the login node: the jump-host setup;
#   - Lmod with Python modules in two naming schemes (Alliance `StdEnv/2023` + `python/3.11`,
#     EasyBuild `Python/3.11.x-GCCcore-12.x.0`), wrapping the system python3;
#   - a single-node Slurm: munged and slurmctld on this machine (the login side), slurmd on the
#     compute node $NODE_NAME, a network namespace ($NODE_NS, 10.232.8.2) with its own host name
#     that only the login side reaches, beside the node's own sshd (port 22 there), which admits
#     only a user with a running job on the node (pam_slurm_adopt), as sites do;
#   - sshd "dtu" on 127.0.0.1:$DTU_PORT: the plain node's sign-in, and in its shells DTU's software:
#     Tcl Environment Modules (Debian's environment-modules, unpacked: it conflicts with lmod)
#     with `python3/<x.y.z>` names, and a STAND-IN for LSF 10.1's commands (lsf.py: bsub, bjobs,
#     bkill, bqueues as LSF's documentation shows them) whose jobs run on this Slurm;
#   - sshd "duo" on 127.0.0.1:$DUO_PORT (password or key, then Duo) and "duo-key" on
#     127.0.0.1:$DUO_KEY_PORT (key, then Duo): Duo asked by a STAND-IN PAM module
#     (pam_duo_standin.c, built here) that asks what pam_duo asks and answers pushes from a file;
#   - sshd "olivia" on 127.0.0.1:$OLIVIA_PORT: the plain node's sign-in, and in its shells Olivia's
#     NRIS module stacks, native pip refused, and a STAND-IN for hpc-container-wrapper's
#     pip-containerize (container-wrapper/) behind its module;
#   - sshd "class" on 127.0.0.1:$CLASS_PORT at sshd's default MaxStartups (10:30:100), for the
#     class accounts (tests/cluster/class-users.sh), and "busy" on 127.0.0.1:$BUSY_PORT, which
#     drops every new connection while one is unauthenticated (MaxStartups 1:100:2);
#   - a desk namespace ($DESK_NS) that reaches the login node (10.232.9.1:$PLAIN_PORT) and
#     nothing else: the laptop that must go through the login node to reach a compute node.
# Every config, key, socket and log lives under $HPCINIT_CLUSTER_DIR (default
# /tmp/hpcinit-cluster); the system's own sshd config and host keys are never touched. What it
# adds outside that directory (the test user, /etc/pam.d/hpcinit-sshd-mfa, /run/sshd, the namespace) is
# recorded and removed by tests/cluster/down.sh, which also stops only the PIDs started here.
# Prints `cluster: up in N s` and writes $HPCINIT_CLUSTER_DIR/cluster.env for tests to source.
set -euo pipefail
start_ns=$(date +%s%N)

here=$(cd "$(dirname "$0")" && pwd)
D=${HPCINIT_CLUSTER_DIR:-/tmp/hpcinit-cluster}
PLAIN_PORT=${HPCINIT_PLAIN_PORT:-2222}
MFA_PORT=${HPCINIT_MFA_PORT:-2223}
GW_PORT=${HPCINIT_GATEWAY_PORT:-2224}
CHAIN_PORT=${HPCINIT_CHAIN_PORT:-2225}
GW_MFA_PORT=${HPCINIT_GATEWAY_MFA_PORT:-2226}
DTU_PORT=${HPCINIT_DTU_PORT:-2227}
DUO_PORT=${HPCINIT_DUO_PORT:-2228}
DUO_KEY_PORT=${HPCINIT_DUO_KEY_PORT:-2229}
OLIVIA_PORT=${HPCINIT_OLIVIA_PORT:-2230}
CLASS_PORT=${HPCINIT_CLASS_PORT:-2231}
BUSY_PORT=${HPCINIT_BUSY_PORT:-2232}
# The laptop behind a gateway: a network namespace whose one link reaches the gateway's
# address; the login node (the plain sshd, on this machine's loopback) is out of its reach.
LAPTOP_NS=${HPCINIT_LAPTOP_NS:-hpcinit-laptop}
GW_NET=10.232.7.
# The compute node: its own network namespace and host name; its name resolves (on the login
# side, /etc/hosts) to its address there.
NODE_NS=${HPCINIT_NODE_NS:-hpcinit-node}
NODE_NAME=${HPCINIT_NODE_NAME:-hpcnode1}
NODE_NET=10.232.8.
DESK_NS=${HPCINIT_DESK_NS:-hpcinit-desk}
DESK_NET=10.232.9.
SLURMCTLD_PORT=${HPCINIT_SLURMCTLD_PORT:-16817}
SLURMD_PORT=${HPCINIT_SLURMD_PORT:-16818}
TEST_USER=${HPCINIT_TEST_USER:-hpcuser}
# The gateway's own account (a gateway is another machine, with its own home and keys).
GATE_USER=${HPCINIT_GATE_USER:-hpcgate}
TEST_PASSWORD=hpcinit-test-password
# The TOTP secret, in hex as pam_oath's users file takes it (20 bytes). pam_oath accepts codes up
# to 600 steps ahead: a benchmark (bench/bootstrap.sh) uses dozens of fresh codes a minute.
TOTP_SECRET=3132333435363738393031323334353637383930

die() { echo "cluster: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (it starts sshd, munged and Slurm, and adds a test user)"
mkdir -p "$D"/{logs,run,sshd,mfa,modules,sw,slurm/state,slurm/spool,munge}
chmod 755 "$D"
added="$D/added-by-harness" # one line per thing added outside $D, for down.sh
touch "$added"
note() { grep -qxF "$1" "$added" || echo "$1" >>"$added"; }

# --- packages -------------------------------------------------------------------------------
pkgs=(openssh-server openssh-client rsync lmod slurm-wlm munge libpam-oath oathtool python3-venv python3-virtualenv iproute2 libpam-slurm-adopt tcl8.6 gcc libc6-dev libpam0g-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "cluster: installing ${missing[*]}"
  # Keep the packages' own services (the system sshd on port 22, munge, slurm) from starting.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$D/logs/apt.log" 2>&1 \
    || { [ "$own_policy" = 1 ] && rm -f "$policy"; cat "$D/logs/apt.log" >&2; die "apt-get install failed"; }
  [ "$own_policy" = 1 ] && rm -f "$policy"
fi

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# A network namespace whose one link (a veth pair PREFIX-a here, PREFIX-b there) joins this
# machine (NET1) to it (NET2), a /30 and nothing else; recorded for down.sh.
ns_link() { # namespace prefix net
  ip netns list | grep -qw "$1" && return 0
  ip netns add "$1"
  ip link add "$2-a" type veth peer name "$2-b"
  ip link set "$2-b" netns "$1"
  ip addr add "${3}1/30" dev "$2-a"
  ip link set "$2-a" up
  ip netns exec "$1" ip addr add "${3}2/30" dev "$2-b"
  ip netns exec "$1" ip link set "$2-b" up
  ip netns exec "$1" ip link set lo up
  note "netns $1"
}

# --- test user --------------------------------------------------------------------------------
home="$D/home/$TEST_USER"
if ! id "$TEST_USER" >/dev/null 2>&1; then
  mkdir -p "$D/home"
  useradd --home-dir "$home" --create-home --shell /bin/bash "$TEST_USER"
  note "user $TEST_USER"
  echo "$TEST_USER:$TEST_PASSWORD" | chpasswd
fi
# A user left from an earlier cluster whose directory is gone gets its home back.
mkdir -p "$D/home"
[ -d "$home" ] || { mkdir -p "$home" && chown "$TEST_USER:$TEST_USER" "$home"; }
chmod 755 "$D/home"
gate_home="$D/home/$GATE_USER"
if ! id "$GATE_USER" >/dev/null 2>&1; then
  useradd --home-dir "$gate_home" --create-home --shell /bin/bash "$GATE_USER"
  note "user $GATE_USER"
  echo "$GATE_USER:$TEST_PASSWORD" | chpasswd
fi
[ -d "$gate_home" ] || { mkdir -p "$gate_home" && chown "$GATE_USER:$GATE_USER" "$gate_home"; }
mkdir -p "$gate_home/.ssh" && chmod 700 "$gate_home/.ssh" && touch "$gate_home/.ssh/authorized_keys" \
  && chmod 600 "$gate_home/.ssh/authorized_keys" && chown -R "$GATE_USER:$GATE_USER" "$gate_home/.ssh"

# --- Lmod modules, two naming schemes ---------------------------------------------------------
pyver=$(/usr/bin/python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
pymm=${pyver%.*}
gccver=$(gcc -dumpfullversion 2>/dev/null || echo 12.2.0)
gccver="${gccver%%.*}.$(echo "$gccver" | cut -d. -f2).0"
sw="$D/sw/python-$pyver/bin"
mkdir -p "$sw"
for n in python python3 "python$pymm"; do ln -sfn "/usr/bin/python$pymm" "$sw/$n"; done
mkdir -p "$D/modules/alliance/StdEnv" "$D/modules/alliance/python" "$D/modules/easybuild/Python"
cat >"$D/modules/alliance/StdEnv/2023.lua" <<EOF
whatis("Standard environment 2023 (test cluster, Alliance style)")
setenv("HPCINIT_STDENV", "2023")
EOF
cat >"$D/modules/alliance/python/$pymm.lua" <<EOF
whatis("Python $pyver (test cluster, Alliance style)")
prereq("StdEnv")
prepend_path("PATH", "$sw")
setenv("EBVERSIONPYTHON", "$pyver")
pushenv("PIP_FIND_LINKS", "$D/wheelhouse $D/wheelhouse-alliance")
EOF
cat >"$D/modules/easybuild/Python/$pyver-GCCcore-$gccver.lua" <<EOF
whatis("Python $pyver built with GCCcore $gccver (test cluster, EasyBuild style)")
prepend_path("PATH", "$sw")
setenv("EBROOTPYTHON", "$D/sw/python-$pyver")
setenv("EBVERSIONPYTHON", "$pyver")
pushenv("PIP_FIND_LINKS", "$D/wheelhouse $D/wheelhouse-easybuild")
EOF

# --- Tcl Environment Modules (DTU style), the real thing ------------------------------------------
# Debian's environment-modules 5.2.0, unpacked beside Lmod (the two packages conflict in dpkg)
# with its install paths rewritten to the unpacked tree; a login sees it instead of Lmod when
# its sshd sets HPCINIT_TEST_LOGIN=dtu (below). Modules named as DTU names them:
# python3/<x.y.z>, with a `python3` default set in .modulerc.
em="$D/envmodules"
if [ ! -x "$em/usr/lib/x86_64-linux-gnu/modulecmd.tcl" ]; then
  mkdir -p "$D/debs"
  deb=$(compgen -G "$D/debs/environment-modules_*.deb" | head -n 1 || true)
  if [ -z "$deb" ]; then
    (cd "$D/debs" && { apt-get download environment-modules >>"$D/logs/apt.log" 2>&1 \
      || { apt-get update -qq && apt-get download environment-modules >>"$D/logs/apt.log" 2>&1; }; }) \
      || die "could not download the environment-modules package (see $D/logs/apt.log)"
    deb=$(compgen -G "$D/debs/environment-modules_*.deb" | head -n 1)
  fi
  rm -rf "$em" && mkdir -p "$em"
  dpkg-deb -x "$deb" "$em"
  grep -rlI -e /usr/share/modules -e /usr/lib/x86_64-linux-gnu -e /etc/environment-modules "$em" \
    | xargs sed -i -e "s|/usr/share/modules|$em/usr/share/modules|g" \
      -e "s|/usr/lib/x86_64-linux-gnu|$em/usr/lib/x86_64-linux-gnu|g" \
      -e "s|/etc/environment-modules|$em/etc/environment-modules|g"
fi
mkdir -p "$D/modules/dtu/python3"
cat >"$D/modules/dtu/python3/$pyver" <<EOF
#%Module1.0
## Python $pyver (test cluster, DTU style: Tcl Environment Modules)
module-whatis "Python $pyver"
prepend-path PATH $sw
setenv EBVERSIONPYTHON $pyver
EOF
# A second version with no Python behind it: a listing has more than one line, as DTU's does.
cat >"$D/modules/dtu/python3/3.10.12" <<EOF
#%Module1.0
module-whatis "Python 3.10.12 (listed only; not installed on the test cluster)"
prereq python3/3.10.12-never-installed
EOF
cat >"$D/modules/dtu/python3/.modulerc" <<EOF
#%Module1.0
module-version python3/$pyver default
EOF

# --- the Olivia-shaped login: the container wrapper (a STAND-IN) behind Lmod modules ---------------
# Olivia's stacks (NRIS/Login, sticky and loaded at login; NRIS/CPU, which opens the CPU stack
# where hpc-container-wrapper lives) and its rule that native pip and venv installs are not
# allowed (tests/cluster/container-wrapper/no-native-pip, first on PATH as pip, pip3, python3).
# pip-containerize (tests/cluster/container-wrapper/pip-containerize) builds a venv in a
# directory instead of an image, with wrappers in PREFIX/bin, as the real one's commands do.
mkdir -p "$D/olivia/cw/bin" "$D/olivia/policy" "$D/modules/olivia/NRIS" "$D/modules/olivia-cpu/hpc-container-wrapper" "$D/modules/olivia-cpu/GCCcore"
install -m 755 "$here/container-wrapper/pip-containerize" "$D/olivia/cw/bin/pip-containerize"
install -m 755 "$here/container-wrapper/no-native-pip" "$D/olivia/no-native-pip"
for c in pip pip3 python3; do ln -sfn ../no-native-pip "$D/olivia/policy/$c"; done
cat >"$D/modules/olivia/NRIS/Login.lua" <<EOF
whatis("NRIS software stack for login nodes (test cluster, Olivia style; loaded at login)")
family("NRIS")
add_property("lmod", "sticky")
EOF
cat >"$D/modules/olivia/NRIS/CPU.lua" <<EOF
whatis("NRIS software stack for CPU nodes (test cluster, Olivia style)")
family("NRIS")
prepend_path("MODULEPATH", "$D/modules/olivia-cpu")
EOF
cat >"$D/modules/olivia-cpu/hpc-container-wrapper/0.5.0.lua" <<EOF
whatis("hpc-container-wrapper 0.5.0 (test cluster STAND-IN: pip-containerize builds in a directory, no image)")
prepend_path("PATH", "$D/olivia/cw/bin")
EOF
cat >"$D/modules/olivia-cpu/GCCcore/$gccver.lua" <<EOF
whatis("GCCcore $gccver (test cluster, EasyBuild name; nothing behind it)")
EOF

# --- the wheelhouse: the test cluster has no internet, pip installs from here only -----------
/usr/bin/python3 "$here/wheels.py" "$D/wheelhouse"
# Jupyter Lab and dask from the package index (the one thing fetched from outside), once: what
# `hpcinit jupyter` installs into a venv and what a notebook's dask-jobqueue runs. The test
# cluster's pip still installs from the wheelhouse only.
interactive=(jupyterlab==4.6.6 dask==2026.8.0 distributed==2026.8.0 dask-jobqueue==0.9.0)
if [ "$(cat "$D/wheelhouse/.interactive" 2>/dev/null)" != "${interactive[*]}" ]; then
  /usr/bin/python3 -m pip download -q --disable-pip-version-check --only-binary=:all: \
    -d "$D/wheelhouse" "${interactive[@]}" >"$D/logs/pip-download.log" 2>&1 \
    || { tail -5 "$D/logs/pip-download.log" >&2; die "could not download Jupyter Lab and dask from the package index"; }
  echo "${interactive[*]}" >"$D/wheelhouse/.interactive"
fi
chmod -R a+rX "$D/wheelhouse" "$D/wheelhouse-alliance" "$D/wheelhouse-easybuild"

# --- Slurm + munge ------------------------------------------------------------------------------
chown -R munge:munge "$D/munge" 2>/dev/null || true
chmod 711 "$D/munge"
[ -f "$D/munge/munge.key" ] || { dd if=/dev/urandom bs=1 count=1024 of="$D/munge/munge.key" status=none; }
chown munge:munge "$D/munge/munge.key" && chmod 400 "$D/munge/munge.key"
mkdir -p "$D/munge/run" && chown munge:munge "$D/munge/run" && chmod 755 "$D/munge/run"
munge_socket="$D/munge/run/munge.socket.2"
if ! alive "$D/munge/run/munged.pid"; then
  runuser -u munge -- /usr/sbin/munged --key-file="$D/munge/munge.key" --socket="$munge_socket" \
    --pid-file="$D/munge/run/munged.pid" --log-file="$D/munge/munged.log" --seed-file="$D/munge/munged.seed" \
    || die "munged did not start: $(tail -3 "$D/munge/munged.log" 2>/dev/null)"
fi


# --- the compute node's namespace: reached from this machine (the login side) only -----------
ns_link "$NODE_NS" hpcnd "$NODE_NET"
hosts_line="${NODE_NET}2 $NODE_NAME # hpcinit test cluster"
if ! grep -qxF "$hosts_line" /etc/hosts; then
  echo "$hosts_line" >>/etc/hosts
fi
note "hosts $hosts_line"
# The desk: a laptop whose one link reaches the login node's address on it, and no compute node.
ns_link "$DESK_NS" hpcdk "$DESK_NET"
# Runs a command on the compute node: its network namespace and its own host name.
# nsenter, not `ip netns exec`: that remounts /sys, hiding the cgroup file system slurmd reads.
on_node() { nsenter --net="/run/netns/$NODE_NS" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$NODE_NAME" "$@"; }

cat >"$D/slurm/slurm.conf" <<EOF
# hpcinit test cluster: the controller on this machine (the login side, which the node reaches
# at ${NODE_NET}1), one compute node in its own namespace.
ClusterName=hpcinit-test
SlurmctldHost=localhost(${NODE_NET}1)
SlurmUser=root
SlurmctldPort=$SLURMCTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge_socket
StateSaveLocation=$D/slurm/state
SlurmdSpoolDir=$D/slurm/spool
SlurmctldPidFile=$D/slurm/slurmctld.pid
SlurmdPidFile=$D/slurm/slurmd.pid
SlurmctldLogFile=$D/logs/slurmctld.log
SlurmdLogFile=$D/logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
# The extern step that pam_slurm_adopt adopts ssh sessions into (libpam-slurm-adopt's README).
PrologFlags=Contain
# More CPUs and memory than a 2-core machine has (config_overrides): a notebook server and two
# dask workers run at once, beside the other tests' jobs.
SlurmdParameters=config_overrides
NodeName=$NODE_NAME NodeAddr=${NODE_NET}2 CPUs=8 RealMemory=8192 State=UNKNOWN
PartitionName=debug Nodes=$NODE_NAME Default=YES MaxTime=7-00:00:00 State=UP
# A partition that takes jobs and never starts them (reason PartitionDown): a job that pends.
PartitionName=held Nodes=$NODE_NAME MaxTime=7-00:00:00 State=DOWN
EOF
export SLURM_CONF="$D/slurm/slurm.conf"
alive "$D/slurm/slurmctld.pid" || /usr/sbin/slurmctld -f "$SLURM_CONF" || die "slurmctld did not start: $(tail -5 "$D/logs/slurmctld.log")"
alive "$D/slurm/slurmd.pid" || on_node /usr/sbin/slurmd -f "$SLURM_CONF" -N "$NODE_NAME" || die "slurmd did not start: $(tail -5 "$D/logs/slurmd.log")"

# --- the LSF stand-in (tests/cluster/lsf.py): bsub, bjobs, bkill, bqueues over this Slurm -----------
mkdir -p "$D/lsf/bin" "$D/lsf/conf" "$D/lsf/mail"
install -m 755 "$here/lsf.py" "$D/lsf/lsf.py"
for c in bsub bjobs bkill bqueues; do ln -sfn ../lsf.py "$D/lsf/bin/$c"; done
# LSF's own default: LSB_STDOUT_DIRECT unset, output copied to the -o file when the job ends.
printf '# The hpcinit LSF stand-in reads this file as LSF reads lsf.conf.\nLSF_CLUSTER_NAME=hpcinit-test\n' >"$D/lsf/conf/lsf.conf"
# Where the stand-in "mails" output that could not be stored, one file per user.
chmod 1777 "$D/lsf/mail"

# --- the test user's shell: Lmod and Slurm in every shell sshd starts ---------------------------
cat >"$home/.bashrc" <<EOF
# hpcinit test cluster: like a cluster's /etc/bashrc, modules and a scheduler in every bash.
# A login shell slow to start (a site's .bashrc restoring many modules), while a test has
# written its seconds to $D/slow-shell.
if [ -s $D/slow-shell ]; then sleep "\$(cat $D/slow-shell)"; fi
if [ "\${HPCINIT_TEST_LOGIN:-}" = dtu ]; then
  # The DTU-style login (its sshd sets HPCINIT_TEST_LOGIN): Tcl Environment Modules and the
  # LSF stand-in's commands (tests/cluster/lsf.py), whose jobs run on the Slurm below.
  # The machine's /etc/profile.d set Lmod up first: a DTU node has no Lmod, so its traces go.
  unset -f module ml 2>/dev/null
  unset BASH_ENV MODULESHOME MODULEPATH_ROOT \${!LMOD_@}
  . $em/usr/share/modules/init/bash
  export MODULEPATH=$D/modules/dtu
  export LSF_ENVDIR=$D/lsf/conf
  export PATH=$D/lsf/bin:\$PATH
elif [ "\${HPCINIT_TEST_LOGIN:-}" = olivia ]; then
  # The Olivia-shaped login (its sshd sets HPCINIT_TEST_LOGIN): NRIS stacks, NRIS/Login loaded,
  # the container wrapper's module, and native pip refused.
  export MODULEPATH_ROOT=$D/modules
  export MODULEPATH=$D/modules/olivia
  export LMOD_SYSTEM_DEFAULT_MODULES=NRIS/Login
  . /usr/share/lmod/lmod/init/bash
  module --initial_load --quiet restore >/dev/null 2>&1
  export PATH=$D/olivia/policy:\$PATH
else
  export MODULEPATH_ROOT=$D/modules
  export MODULEPATH=$D/modules/alliance:$D/modules/easybuild
  export LMOD_SYSTEM_DEFAULT_MODULES=
  . /usr/share/lmod/lmod/init/bash
fi
export SLURM_CONF=$SLURM_CONF
# No internet here: pip installs only from the cluster's wheelhouse (as Alliance login nodes do).
export PIP_NO_INDEX=1
export PIP_FIND_LINKS=$D/wheelhouse
export PIP_DISABLE_PIP_VERSION_CHECK=1
EOF
printf '. "$HOME/.bashrc"\n' >"$home/.bash_profile"
# Site scratch, linked from home as Narval does it (the sandbox profile says so).
mkdir -p "$D/scratch/$TEST_USER" && chown "$TEST_USER:$TEST_USER" "$D/scratch/$TEST_USER" && chmod 755 "$D/scratch"
[ -e "$home/scratch" ] || [ -L "$home/scratch" ] || ln -s "$D/scratch/$TEST_USER" "$home/scratch"
mkdir -p "$home/.ssh" && chmod 700 "$home/.ssh" && touch "$home/.ssh/authorized_keys" && chmod 600 "$home/.ssh/authorized_keys"
chown -hR "$TEST_USER:$TEST_USER" "$home"

# --- sshd: privilege separation dir, host keys, two configs -------------------------------------
if [ ! -d /run/sshd ]; then mkdir -p /run/sshd && chmod 755 /run/sshd && note "dir /run/sshd"; fi
[ -f "$D/sshd/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C hpcinit-test-cluster -f "$D/sshd/host_ed25519"
[ -f "$D/sshd/host_rsa" ] || ssh-keygen -q -t rsa -b 3072 -N '' -C hpcinit-test-cluster -f "$D/sshd/host_rsa"
# What every sshd here shares; the login nodes add their host keys and address.
shared="AllowUsers $TEST_USER
PermitRootLogin no
AuthorizedKeysFile .ssh/authorized_keys
LogLevel VERBOSE
MaxSessions 64
MaxStartups 64:30:128
Subsystem sftp /usr/lib/openssh/sftp-server
PrintMotd no"
common="HostKey $D/sshd/host_ed25519
HostKey $D/sshd/host_rsa
ListenAddress 127.0.0.1
$shared"
cat >"$D/sshd/plain.conf" <<EOF
# Password and key login.
Port $PLAIN_PORT
PidFile $D/run/sshd-plain.pid
$common
# The desk namespace's way in.
ListenAddress ${DESK_NET}1
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
EOF
# The DTU-style login: the plain node's sign-in, Tcl Environment Modules and LSF in its shells.
sed -e "s/^Port .*/Port $DTU_PORT/" -e "s|sshd-plain.pid|sshd-dtu.pid|" -e "/^ListenAddress ${DESK_NET}1/d" \
  -e "s/^# Password and key login./# Password and key login; DTU's software (Environment Modules, LSF) in its shells./" \
  "$D/sshd/plain.conf" >"$D/sshd/dtu.conf"
echo "SetEnv HPCINIT_TEST_LOGIN=dtu" >>"$D/sshd/dtu.conf"
# The Olivia-shaped login: the plain node's sign-in, Olivia's module stacks and container wrapper.
sed -e "s/^Port .*/Port $OLIVIA_PORT/" -e "s|sshd-plain.pid|sshd-olivia.pid|" -e "/^ListenAddress ${DESK_NET}1/d" \
  -e "s/^# Password and key login./# Password and key login; Olivia's stacks and container wrapper in its shells./" \
  "$D/sshd/plain.conf" >"$D/sshd/olivia.conf"
echo "SetEnv HPCINIT_TEST_LOGIN=olivia" >>"$D/sshd/olivia.conf"
# A room of students: "class" is the plain node at sshd's default MaxStartups (10:30:100: after
# 10 unauthenticated connections, new ones are dropped at random, all of them at 100), open
# to the class accounts (hpcuser01…, made by tests/cluster/class-users.sh); "busy" drops every
# new connection while one is unauthenticated (MaxStartups 1:100:2), so a test can hold it busy.
# AllowUsers adds to the shared line; MaxStartups takes its last value (servconf.c), so it ends
# the file.
for login in class:$CLASS_PORT:10:30:100 busy:$BUSY_PORT:1:100:2; do
  IFS=: read -r name port start rate full <<<"$login"
  sed -e "s/^Port .*/Port $port\nAllowUsers $TEST_USER hpcuser?? hpcuser???/" \
    -e "s|sshd-plain.pid|sshd-$name.pid|" -e "/^ListenAddress ${DESK_NET}1/d" \
    -e "s/^# Password and key login./# Password and key login at MaxStartups $start:$rate:$full./" \
    "$D/sshd/plain.conf" >"$D/sshd/$name.conf"
  echo "MaxStartups $start:$rate:$full" >>"$D/sshd/$name.conf"
done
cat >"$D/sshd/mfa.conf" <<EOF
# Password, then a one-time code (TOTP), both asked by PAM: Sigma2 style.
Port $MFA_PORT
PidFile $D/run/sshd-mfa.pid
$common
UsePAM yes
PasswordAuthentication no
KbdInteractiveAuthentication yes
PubkeyAuthentication no
AuthenticationMethods keyboard-interactive
EOF
# sshd names its PAM service after the program's name: a symlink gives the MFA sshd its own.
ln -sfn /usr/sbin/sshd "$D/sshd/hpcinit-sshd-mfa"
pam=/etc/pam.d/hpcinit-sshd-mfa
cat >"$pam" <<EOF
# hpcinit test cluster (tests/cluster/up.sh): password, then TOTP. Removed by down.sh.
auth     requisite pam_unix.so
auth     required  pam_oath.so usersfile=$D/mfa/users.oath window=600 digits=6
account  required  pam_unix.so
session  required  pam_permit.so
password required  pam_deny.so
EOF
note "file $pam"
[ -f "$D/mfa/users.oath" ] || { echo "HOTP/T30/6 $TEST_USER - $TOTP_SECRET" >"$D/mfa/users.oath"; }
chmod 600 "$D/mfa/users.oath"

# --- the compute node's sshd: keys only, and only for a user with a job on the node ---------------
[ -f "$D/sshd/node_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C hpcinit-test-node -f "$D/sshd/node_ed25519"
cat >"$D/sshd/node.conf" <<EOF
# The compute node $NODE_NAME: a key from ~/.ssh/authorized_keys (the shared home), then
# pam_slurm_adopt's rule: a running job of yours on this node, which the session joins.
Port 22
ListenAddress ${NODE_NET}2
PidFile $D/run/sshd-node.pid
HostKey $D/sshd/node_ed25519
$shared
UsePAM yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AllowTcpForwarding yes
EOF
ln -sfn /usr/sbin/sshd "$D/sshd/hpcinit-sshd-node"
pam=/etc/pam.d/hpcinit-sshd-node
cat >"$pam" <<EOF
# hpcinit test cluster (tests/cluster/up.sh): a compute node's sshd. pam_slurm_adopt admits only
# a user with a running job on this node and adopts the session into it; service= names this
# PAM service (the module's default is sshd). Removed by down.sh.
auth     required  pam_deny.so
account  required  pam_unix.so
account  required  pam_slurm_adopt.so service=hpcinit-sshd-node nodename=$NODE_NAME
session  required  pam_permit.so
password required  pam_deny.so
EOF
note "file $pam"
/usr/sbin/sshd -t -f "$D/sshd/node.conf" || die "node sshd config rejected"
alive "$D/run/sshd-node.pid" || SLURM_CONF="$SLURM_CONF" on_node "$D/sshd/hpcinit-sshd-node" -f "$D/sshd/node.conf" -E "$D/logs/sshd-node.log" \
  || die "sshd (compute node, ${NODE_NET}2:22) did not start: $(tail -2 "$D/logs/sshd-node.log")"

# --- the gateway: its own host key, reachable from the laptop namespace only ---------------------
ns_link "$LAPTOP_NS" hpcgw "$GW_NET"
ip netns exec "$LAPTOP_NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$PLAIN_PORT" 2>/dev/null \
  && die "the laptop namespace reaches the login node without the gateway"
[ -f "$D/sshd/gw_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C hpcinit-test-gateway -f "$D/sshd/gw_ed25519"
cat >"$D/sshd/gateway.conf" <<EOF
# The gateway (jump host): password and key login, TCP forwarding to the login node.
Port $GW_PORT
ListenAddress ${GW_NET}1
PidFile $D/run/sshd-gateway.pid
HostKey $D/sshd/gw_ed25519
AllowUsers $GATE_USER
$shared
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AllowTcpForwarding yes
EOF

# --- the "chain" node: two factors in two SSH methods (partial success) ---------------------------
# A password or a registered key (the first method), then a one-time code through
# keyboard-interactive (the second), as `AuthenticationMethods` lists them. sshd runs one PAM
# stack for both the password and keyboard-interactive; chain-factor.sh tells the rounds apart.
chain=/usr/local/libexec/hpcinit-test-chain
if [ ! -f "$chain" ] || ! cmp -s "$here/chain-factor.sh" "$chain"; then
  install -D -o root -g root -m 755 "$here/chain-factor.sh" "$chain"
  note "file $chain"
fi
cat >"$D/sshd/chain.conf" <<EOF
# Password or key, then a one-time code, in two methods (partial success).
Port $CHAIN_PORT
PidFile $D/run/sshd-chain.pid
# Before the shared lines: sshd takes the first value of a keyword.
AuthorizedKeysFile none
$common
UsePAM yes
PasswordAuthentication yes
KbdInteractiveAuthentication yes
PubkeyAuthentication yes
AuthorizedKeysCommand $chain keys %u %f
AuthorizedKeysCommandUser root
AuthenticationMethods password,keyboard-interactive publickey,keyboard-interactive
EOF
# The PAM service of a node whose first factor (a password, or a key marked by the
# AuthorizedKeysCommand) is followed by a second one in keyboard-interactive; recorded for down.sh.
chain_pam() { # service, the second factor's auth line, what it is
  ln -sfn /usr/sbin/sshd "$D/sshd/$1"
  cat >"/etc/pam.d/$1" <<EOF
# hpcinit test cluster (tests/cluster/up.sh): the first factor (password) in the password
# method, $3 in keyboard-interactive. Removed by down.sh.
auth     [success=3 default=ignore] pam_exec.so quiet $chain second
auth     requisite pam_unix.so
auth     [success=done default=die] pam_exec.so quiet $chain first
auth     requisite pam_deny.so
$2
account  required  pam_unix.so
session  required  pam_permit.so
password required  pam_deny.so
EOF
  note "file /etc/pam.d/$1"
}
chain_pam hpcinit-sshd-chain "auth     required  pam_oath.so usersfile=$D/mfa/users.oath window=600 digits=6" "the one-time code"

/usr/sbin/sshd -t -f "$D/sshd/chain.conf" || die "chain sshd config rejected"

# --- Duo (a STAND-IN for pam_duo: tests/cluster/pam_duo_standin.c) -------------------------------
# Two logins that ask what Duo's PAM module asks, one echo-on prompt with Duo's menu, and decide
# as Duo's service would from $D/duo/push (`approve SECONDS`, `deny SECONDS`, `ignore`) and
# $D/duo/passcodes:
#   "duo"     on 127.0.0.1:$DUO_PORT: a password or a key, then Duo (the chain node's two SSH
#             methods: the Alliance and IU way), one Duo prompt per attempt (pam_duo's
#             `prompts = 1`);
#   "duo-key" on 127.0.0.1:$DUO_KEY_PORT: a key, then Duo (`publickey,keyboard-interactive`),
#             Duo's three-option menu (push, phone call, SMS), asked up to 3 times in one attempt
#             (pam_duo's default `prompts`).
mkdir -p "$D/duo"
duo_so="$D/duo/pam_hpcinit_duo.so"
if [ ! -f "$duo_so" ] || [ "$here/pam_duo_standin.c" -nt "$duo_so" ]; then
  gcc -O2 -Wall -Werror -fPIC -shared -o "$duo_so" "$here/pam_duo_standin.c" -lpam \
    || die "could not build the Duo stand-in PAM module"
fi
[ -f "$D/duo/push" ] || echo "approve 1" >"$D/duo/push"
touch "$D/duo/passcodes" "$D/duo/log"
chmod 700 "$D/duo"
sed -e "s/^Port .*/Port $DUO_PORT/" -e "s|sshd-chain.pid|sshd-duo.pid|" \
  -e "s/^# Password or key, then a one-time code.*/# A password or a key, then Duo (the stand-in PAM module)./" \
  "$D/sshd/chain.conf" >"$D/sshd/duo.conf"
chain_pam hpcinit-sshd-duo "auth     required  $duo_so state=$D/duo prompts=1 menu=1" "Duo (the stand-in)"
cat >"$D/sshd/duo-key.conf" <<EOF
# A registered key, then Duo (the stand-in PAM module) in keyboard-interactive.
Port $DUO_KEY_PORT
PidFile $D/run/sshd-duo-key.pid
$common
UsePAM yes
PasswordAuthentication no
KbdInteractiveAuthentication yes
PubkeyAuthentication yes
AuthenticationMethods publickey,keyboard-interactive
EOF
ln -sfn /usr/sbin/sshd "$D/sshd/hpcinit-sshd-duo-key"
pam=/etc/pam.d/hpcinit-sshd-duo-key
cat >"$pam" <<EOF
# hpcinit test cluster (tests/cluster/up.sh): Duo (the stand-in) after the key. Removed by down.sh.
auth     required  $duo_so state=$D/duo prompts=3 menu=3
account  required  pam_unix.so
session  required  pam_permit.so
password required  pam_deny.so
EOF
note "file $pam"
/usr/sbin/sshd -t -f "$D/sshd/duo.conf" || die "duo sshd config rejected"
/usr/sbin/sshd -t -f "$D/sshd/duo-key.conf" || die "duo-key sshd config rejected"
# The same gateway asking its own one-time code (password, then TOTP, through the mfa PAM
# service: the program's name picks it).
sed -e "s/^Port .*/Port $GW_MFA_PORT/" -e "s|sshd-gateway.pid|sshd-gateway-mfa.pid|" \
  -e "s/^UsePAM no/UsePAM yes/" -e "s/^PasswordAuthentication yes/PasswordAuthentication no/" \
  -e "s/^KbdInteractiveAuthentication no/KbdInteractiveAuthentication yes\nAuthenticationMethods keyboard-interactive/" \
  -e "s/^# The gateway (jump host): .*/# The gateway with its own second factor: password, then a one-time code./" \
  "$D/sshd/gateway.conf" >"$D/sshd/gateway-mfa.conf"
/usr/sbin/sshd -t -f "$D/sshd/gateway.conf" || die "gateway sshd config rejected"
/usr/sbin/sshd -t -f "$D/sshd/gateway-mfa.conf" || die "gateway (mfa) sshd config rejected"
/usr/sbin/sshd -t -f "$D/sshd/plain.conf" || die "plain sshd config rejected"
/usr/sbin/sshd -t -f "$D/sshd/mfa.conf" || die "mfa sshd config rejected"
alive "$D/run/sshd-plain.pid" || /usr/sbin/sshd -f "$D/sshd/plain.conf" -E "$D/logs/sshd-plain.log" \
  || die "sshd (plain, port $PLAIN_PORT) did not start: $(tail -2 "$D/logs/sshd-plain.log")"
for name in class busy; do
  /usr/sbin/sshd -t -f "$D/sshd/$name.conf" || die "$name sshd config rejected"
  alive "$D/run/sshd-$name.pid" || /usr/sbin/sshd -f "$D/sshd/$name.conf" -E "$D/logs/sshd-$name.log" \
    || die "sshd ($name) did not start: $(tail -2 "$D/logs/sshd-$name.log")"
done
/usr/sbin/sshd -t -f "$D/sshd/olivia.conf" || die "olivia sshd config rejected"
alive "$D/run/sshd-olivia.pid" || /usr/sbin/sshd -f "$D/sshd/olivia.conf" -E "$D/logs/sshd-olivia.log" \
  || die "sshd (olivia, port $OLIVIA_PORT) did not start: $(tail -2 "$D/logs/sshd-olivia.log")"
/usr/sbin/sshd -t -f "$D/sshd/dtu.conf" || die "dtu sshd config rejected"
alive "$D/run/sshd-dtu.pid" || /usr/sbin/sshd -f "$D/sshd/dtu.conf" -E "$D/logs/sshd-dtu.log" \
  || die "sshd (dtu, port $DTU_PORT) did not start: $(tail -2 "$D/logs/sshd-dtu.log")"
alive "$D/run/sshd-duo.pid" || "$D/sshd/hpcinit-sshd-duo" -f "$D/sshd/duo.conf" -E "$D/logs/sshd-duo.log" \
  || die "sshd (duo, port $DUO_PORT) did not start: $(tail -2 "$D/logs/sshd-duo.log")"
alive "$D/run/sshd-duo-key.pid" || "$D/sshd/hpcinit-sshd-duo-key" -f "$D/sshd/duo-key.conf" -E "$D/logs/sshd-duo-key.log" \
  || die "sshd (duo-key, port $DUO_KEY_PORT) did not start: $(tail -2 "$D/logs/sshd-duo-key.log")"
alive "$D/run/sshd-chain.pid" || "$D/sshd/hpcinit-sshd-chain" -f "$D/sshd/chain.conf" -E "$D/logs/sshd-chain.log" \
  || die "sshd (chain, port $CHAIN_PORT) did not start: $(tail -2 "$D/logs/sshd-chain.log")"
alive "$D/run/sshd-gateway-mfa.pid" || "$D/sshd/hpcinit-sshd-mfa" -f "$D/sshd/gateway-mfa.conf" -E "$D/logs/sshd-gateway-mfa.log" \
  || die "sshd (gateway with a code, ${GW_NET}1:$GW_MFA_PORT) did not start: $(tail -2 "$D/logs/sshd-gateway-mfa.log")"
alive "$D/run/sshd-gateway.pid" || /usr/sbin/sshd -f "$D/sshd/gateway.conf" -E "$D/logs/sshd-gateway.log" \
  || die "sshd (gateway, ${GW_NET}1:$GW_PORT) did not start: $(tail -2 "$D/logs/sshd-gateway.log")"
alive "$D/run/sshd-mfa.pid" || "$D/sshd/hpcinit-sshd-mfa" -f "$D/sshd/mfa.conf" -E "$D/logs/sshd-mfa.log" \
  || die "sshd (mfa, port $MFA_PORT) did not start: $(tail -2 "$D/logs/sshd-mfa.log")"

# --- wait until everything answers ---------------------------------------------------------------
wait_for() { # seconds, description, command...
  local t=$1 what=$2; shift 2
  for _ in $(seq $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "$what did not come up in ${t}s"
}
# Ours, not just anything on the port: the recorded PID is alive and the port speaks SSH.
sshd_ready() { # pidfile port
  alive "$1" && timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$2 && head -c 8 <&3" | grep -q '^SSH-2.0'
}
wait_for 10 "sshd (plain, port $PLAIN_PORT; see $D/logs/sshd-plain.log)" sshd_ready "$D/run/sshd-plain.pid" "$PLAIN_PORT"
wait_for 10 "sshd (dtu, port $DTU_PORT; see $D/logs/sshd-dtu.log)" sshd_ready "$D/run/sshd-dtu.pid" "$DTU_PORT"
wait_for 10 "sshd (duo, port $DUO_PORT; see $D/logs/sshd-duo.log)" sshd_ready "$D/run/sshd-duo.pid" "$DUO_PORT"
wait_for 10 "sshd (duo-key, port $DUO_KEY_PORT; see $D/logs/sshd-duo-key.log)" sshd_ready "$D/run/sshd-duo-key.pid" "$DUO_KEY_PORT"
wait_for 10 "sshd (class, port $CLASS_PORT; see $D/logs/sshd-class.log)" sshd_ready "$D/run/sshd-class.pid" "$CLASS_PORT"
wait_for 10 "sshd (busy, port $BUSY_PORT; see $D/logs/sshd-busy.log)" sshd_ready "$D/run/sshd-busy.pid" "$BUSY_PORT"
wait_for 10 "sshd (olivia, port $OLIVIA_PORT; see $D/logs/sshd-olivia.log)" sshd_ready "$D/run/sshd-olivia.pid" "$OLIVIA_PORT"
wait_for 10 "sshd (mfa, port $MFA_PORT; see $D/logs/sshd-mfa.log)" sshd_ready "$D/run/sshd-mfa.pid" "$MFA_PORT"
wait_for 10 "sshd (chain, port $CHAIN_PORT; see $D/logs/sshd-chain.log)" sshd_ready "$D/run/sshd-chain.pid" "$CHAIN_PORT"
wait_for 10 "sshd (gateway; see $D/logs/sshd-gateway.log)" ip netns exec "$LAPTOP_NS" bash -c \
  "timeout 2 bash -c 'exec 3<>/dev/tcp/${GW_NET}1/$GW_PORT && head -c 8 <&3' | grep -q '^SSH-2.0'"
wait_for 10 "sshd (gateway with a code; see $D/logs/sshd-gateway-mfa.log)" ip netns exec "$LAPTOP_NS" bash -c \
  "timeout 2 bash -c 'exec 3<>/dev/tcp/${GW_NET}1/$GW_MFA_PORT && head -c 8 <&3' | grep -q '^SSH-2.0'"
wait_for 10 "sshd (compute node; see $D/logs/sshd-node.log)" bash -c \
  "timeout 2 bash -c 'exec 3<>/dev/tcp/${NODE_NET}2/22 && head -c 8 <&3' | grep -q '^SSH-2.0'"
ip netns exec "$DESK_NS" bash -c "exec 3<>/dev/tcp/${NODE_NET}2/22" 2>/dev/null \
  && die "the desk namespace reaches the compute node without the login node"
wait_for 30 "Slurm node" bash -c "sinfo -h -N -o '%T' | grep -qE '^(idle|mixed|allocated)'"

cat >"$D/cluster.env" <<EOF
HPCINIT_CLUSTER_DIR=$D
HPCINIT_PLAIN_PORT=$PLAIN_PORT
HPCINIT_MFA_PORT=$MFA_PORT
HPCINIT_TEST_USER=$TEST_USER
HPCINIT_GATE_USER=$GATE_USER
HPCINIT_TEST_PASSWORD=$TEST_PASSWORD
HPCINIT_TOTP_SECRET=$TOTP_SECRET
HPCINIT_PYTHON_VERSION=$pyver
HPCINIT_MODULE_ALLIANCE=python/$pymm
HPCINIT_MODULE_EASYBUILD=Python/$pyver-GCCcore-$gccver
HPCINIT_HOST_KEY_ED25519=$D/sshd/host_ed25519.pub
HPCINIT_GATEWAY_HOST_KEY=$D/sshd/gw_ed25519.pub
HPCINIT_GATEWAY=${GW_NET}1
HPCINIT_GATEWAY_PORT=$GW_PORT
HPCINIT_LAPTOP_NS=$LAPTOP_NS
HPCINIT_SSHD_LOG_GATEWAY=$D/logs/sshd-gateway.log
HPCINIT_GATEWAY_MFA_PORT=$GW_MFA_PORT
HPCINIT_SSHD_LOG_GATEWAY_MFA=$D/logs/sshd-gateway-mfa.log
HPCINIT_CHAIN_PORT=$CHAIN_PORT
HPCINIT_SSHD_LOG_CHAIN=$D/logs/sshd-chain.log
HPCINIT_SSHD_LOG_PLAIN=$D/logs/sshd-plain.log
HPCINIT_SSHD_LOG_MFA=$D/logs/sshd-mfa.log
HPCINIT_ASKPASS=$here/askpass.sh
HPCINIT_WHEELHOUSE=$D/wheelhouse
SLURM_CONF=$SLURM_CONF
HPCINIT_NODE_NAME=$NODE_NAME
HPCINIT_NODE_NS=$NODE_NS
HPCINIT_NODE_HOST_KEY=$D/sshd/node_ed25519.pub
HPCINIT_SSHD_LOG_NODE=$D/logs/sshd-node.log
HPCINIT_DESK_NS=$DESK_NS
HPCINIT_DESK_LOGIN=${DESK_NET}1
HPCINIT_DTU_PORT=$DTU_PORT
HPCINIT_SSHD_LOG_DTU=$D/logs/sshd-dtu.log
HPCINIT_MODULE_DTU=python3/$pyver
HPCINIT_LSF_MAIL=$D/lsf/mail
HPCINIT_DUO_PORT=$DUO_PORT
HPCINIT_DUO_KEY_PORT=$DUO_KEY_PORT
HPCINIT_SSHD_LOG_DUO=$D/logs/sshd-duo.log
HPCINIT_SSHD_LOG_DUO_KEY=$D/logs/sshd-duo-key.log
HPCINIT_DUO_STATE=$D/duo
HPCINIT_OLIVIA_PORT=$OLIVIA_PORT
HPCINIT_SSHD_LOG_OLIVIA=$D/logs/sshd-olivia.log
HPCINIT_CLASS_PORT=$CLASS_PORT
HPCINIT_BUSY_PORT=$BUSY_PORT
HPCINIT_SSHD_LOG_CLASS=$D/logs/sshd-class.log
HPCINIT_SSHD_LOG_BUSY=$D/logs/sshd-busy.log
EOF
chmod 644 "$D/cluster.env"
echo "cluster: up in $(( ($(date +%s%N) - start_ns) / 1000000 )) ms (sshd 127.0.0.1:$PLAIN_PORT password/key, 127.0.0.1:$MFA_PORT password+TOTP; Slurm; Lmod) — $D"
