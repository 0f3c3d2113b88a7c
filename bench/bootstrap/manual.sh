#!/usr/bin/env bash
# The manual route, as course notes and onboarding pages teach it: one `ssh`, `scp` or `rsync`
# per step, each a new connection (so, on a second-factor node, a password and a code each).
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

# 1. SSH key: none on a second-factor node (a key does not spare the code there).
if [ "$NODE" = plain ]; then
  mkdir -p ~/.ssh && chmod 700 ~/.ssh
  ssh-keygen -q -t ed25519 -N '' -C student@laptop -f ~/.ssh/id_ed25519
fi

# 2. ~/.ssh/config: a Host block appended.
mkdir -p ~/.ssh && chmod 700 ~/.ssh
cat >>~/.ssh/config <<CONF
Host $ALIAS
    HostName $HOST
    Port $PORT
    User $RUSER
    UserKnownHostsFile $HOME/.ssh/known_hosts
    IdentityFile $HOME/.ssh/id_ed25519
CONF

# 3. Host key: the first ssh asks "Are you sure you want to continue connecting (yes/no)?"
#    and the person types yes (accept-new is that answer, given in advance).
# 4. Key registration (plain node): ssh-copy-id, with the password.
if [ "$NODE" = plain ]; then
  ssh-copy-id -F "$HOME/.ssh/config" -o StrictHostKeyChecking=accept-new -i ~/.ssh/id_ed25519.pub "$ALIAS" >/dev/null 2>&1
else
  ssh -o StrictHostKeyChecking=accept-new "$ALIAS" true
fi

# 5. Directories.
ssh "$ALIAS" 'mkdir -p ~/sbatch ~/scratch/logs ~/scratch/code-snapshots'

# 6. Python environment: copy the requirements, make the venv, install, check it imports.
scp -q requirements.txt "$ALIAS:$NAME-requirements.txt"
ssh "$ALIAS" "module load $MODULE && python -m venv ~/venvs/$NAME"
ssh "$ALIAS" "module load $MODULE && source ~/venvs/$NAME/bin/activate && pip install -q -r $NAME-requirements.txt"
ssh "$ALIAS" "module load $MODULE && ~/venvs/$NAME/bin/python -c 'import hpcinit_demo'"

# 7. Code: a new copy per version, so queued jobs keep theirs.
stamp=$(date -u +%Y%m%dT%H%M%SZ)
rsync -a --exclude .git ./ "$ALIAS:scratch/code-snapshots/$NAME-$stamp/"

# 8. A test job: copy the script, then submit it, watch it and read its log.
cat >"$NAME-job.sh" <<JOB
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
scp -q "$NAME-job.sh" "$ALIAS:sbatch/$NAME-job.sh"
rm -f "$NAME-job.sh"
# Submitting and watching happen in one login: the person types sbatch, then squeue until the
# job is gone, then cat (counted as one connection, which flatters this route).
ssh "$ALIAS" "id=\$(sbatch --parsable sbatch/$NAME-job.sh); id=\${id%%;*}; while [ -n \"\$(squeue -h -j \$id)\" ]; do sleep 1; done; cat scratch/logs/$NAME-check-\$id.out"
