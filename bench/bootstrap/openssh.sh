#!/usr/bin/env bash
# The best plain-OpenSSH route: one ControlMaster connection (one sign-in), every remote step
# batched into as few commands as it can be, the host key taken on first use by that same
# connection (StrictHostKeyChecking=accept-new). What a careful expert would script by hand.
# Run by bench/bootstrap.sh with HOME set to a fresh laptop home and, in the environment:
#   ALIAS HOST PORT RUSER NODE(mfa|plain) MODULE PROJ NAME
# Prints the smoke job's log line last.
set -euo pipefail
cd "$PROJ"
# This laptop's home is $HOME, not the account's home that ssh reads its files from: every
# ssh, scp and rsync here reads $HOME/.ssh/config, as a person's own ssh reads theirs.
ssh() { command ssh -F "$HOME/.ssh/config" "$@"; }
scp() { command scp -F "$HOME/.ssh/config" "$@"; }
rsync() { command rsync -e "ssh -F $HOME/.ssh/config" "$@"; }

# 1. SSH key (plain node only).
mkdir -p ~/.ssh && chmod 700 ~/.ssh
if [ "$NODE" = plain ]; then
  ssh-keygen -q -t ed25519 -N '' -C student@laptop -f ~/.ssh/id_ed25519
fi

# 2. ~/.ssh/config with a shared connection.
cat >>~/.ssh/config <<CONF
Host $ALIAS
    HostName $HOST
    Port $PORT
    User $RUSER
    UserKnownHostsFile $HOME/.ssh/known_hosts
    IdentityFile $HOME/.ssh/id_ed25519
    ControlMaster auto
    ControlPath $HOME/.ssh/cm-%C
    ControlPersist 10m
CONF

# 3. Host key on first use, 4. sign in once: the master connection.
ssh -o StrictHostKeyChecking=accept-new -fN "$ALIAS"

# 5.–6. Key registration, directories, venv, install, import check and the job script: one
# command over the master.
stamp=$(date -u +%Y%m%dT%H%M%SZ)
{
  [ "$NODE" = plain ] && printf 'mkdir -p ~/.ssh && chmod 700 ~/.ssh && echo %q >> ~/.ssh/authorized_keys\n' "$(cat ~/.ssh/id_ed25519.pub)"
  cat <<REMOTE
set -e
mkdir -p ~/sbatch ~/scratch/logs ~/scratch/code-snapshots
module load $MODULE
python -m venv ~/venvs/$NAME
~/venvs/$NAME/bin/pip install -q -r /dev/stdin <<'REQ'
$(cat requirements.txt)
REQ
~/venvs/$NAME/bin/python -c 'import hpcinit_demo'
cat > ~/sbatch/$NAME-job.sh <<'JOB'
#!/bin/bash
#SBATCH --job-name=$NAME-check
#SBATCH --time=00:05:00
#SBATCH --ntasks=1
#SBATCH --mem=100M
#SBATCH --output=scratch/logs/%x-%j.out
module purge
module load $MODULE
source ~/venvs/$NAME/bin/activate
cd ~/scratch/code-snapshots/$NAME-$stamp
python -c 'import hpcinit_demo, sys; print("check ok", sys.version.split()[0])'
JOB
REMOTE
} | ssh "$ALIAS" 'bash -l -s'

# 7. Code: one rsync over the master.
rsync -a --exclude .git ./ "$ALIAS:scratch/code-snapshots/$NAME-$stamp/"

# 8. Submit, wait on the cluster (squeue 4 times a second, as hpcinit does at first), print
#    the log line.
ssh "$ALIAS" "bash -l -c 'id=\$(sbatch --parsable sbatch/$NAME-job.sh); id=\${id%%;*}; while [ -n \"\$(squeue -h -j \$id)\" ]; do sleep 0.25; done; cat scratch/logs/$NAME-check-\$id.out'"
ssh -O exit "$ALIAS" 2>/dev/null || true
