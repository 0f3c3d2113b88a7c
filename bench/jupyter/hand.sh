#!/usr/bin/env bash
# The best hand-written route to a Jupyter server on a compute node, over an OpenSSH
# ControlMaster (ControlMaster auto in the Host entry: the first ssh signs in, the rest ride):
# submit the job on standard input, wait on the cluster for the server's runtime file in the
# same ssh, forward one local port to it, print the URL. As a careful person would script it,
# with the token never on a command line.
# Usage: hand.sh ALIAS SSH_CONFIG JOB_SCRIPT PRIVATE_DIR  (prints the URL on standard output)
set -euo pipefail
alias=$1 config=$2 job=$3 priv=$4
info=$(ssh -F "$config" "$alias" "umask 077; mkdir -p $priv && cd $priv && id=\$(sbatch --parsable) && \
  until f=\$(ls $priv/\$id/jpserver-*.json 2>/dev/null) && [ -n \"\$f\" ]; do sleep 0.25; done; cat \$f" <"$job")
read -r host port token < <(python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["hostname"], j["port"], j["token"])' <<<"$info")
local_port=8899
ssh -F "$config" -O forward -L "127.0.0.1:$local_port:$host:$port" "$alias" 2>/dev/null
# The server answers through the forward (the runtime file comes just before it listens).
TOKEN=$token python3 - "$local_port" <<'PY'
import os, sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/api/status"
for _ in range(100):
    try:
        urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "token " + os.environ["TOKEN"]}), timeout=5)
        break
    except OSError:
        time.sleep(0.1)
PY
echo "http://127.0.0.1:$local_port/lab?token=$token"
