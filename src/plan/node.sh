# hpcinit code and hpcinit shell on the cluster (bash): a job that holds a compute node for the
# person (their editor or shell joins it over ssh), the node's host keys as the cluster knows
# them, and the shell's start-up file. Every result is a tagged line (@@hpcinit:<tag> <payload>).
# The scheduler's functions are scheduler.sh's; submitting, following and cancelling are
# jupyter.sh's, shared by every interactive session.

# The whole start in one round trip: the project's environment and working directory checked,
# the shell's start-up file written (0600, in the private directory), the job (on standard
# input) submitted, then followed for SECONDS until it runs on a node. Tags: `place WORKDIR
# SCRATCH` (absolute: where the session opens, and the person's scratch resolved), then
# submit's and wait's.
# shellcheck disable=SC2154 # id, env and workdir: set by jupyter.sh's session_ready and submit
hpcinit_node_start() { # venv env-snippet workdir make-workdir scheduler private-dir rc-name seconds
  exec 2>&1
  hpcinit_session_ready "$1" "$2" "$3" "$4" || return 0
  hpcinit_jupyter_submit "$5" "$6" || return 0
  # The submit left us in the private directory (0700, umask 077). bash reads this file instead
  # of ~/.bashrc, so it reads that first.
  {
    printf '%s\n' "# hpcinit: your own start-up, then the project's job environment, in its working directory." \
      '[ -f ~/.bashrc ] && . ~/.bashrc'
    printf '[ -f %q ] && . %q\ncd %q || true\n' "$env" "$env" "$workdir"
  } >"$7"
  hpcinit_jupyter_wait "$5" "$6" "$id" - "$8" node
}

# Where the session opens (FOLDER, the person's own, where it is not `-`; a relative one is under
# home, where ssh starts) and the person's
# scratch, both absolute (tag `place WORKDIR|SCRATCH`), and, when the route is ssh (ROUTE 1) and
# hpcinit has no key of the node yet (NEED 1), the node's host keys (hpcinit_node_hostkey).
hpcinit_node_look() { # workdir cluster-known-hosts route(0|1) node need(0|1) folder
  exec 2>&1
  workdir=$(hpcinit_home_path "$1")
  # shellcheck disable=SC2088 # the literal `~` of the person's PATH, expanded here
  case "${6:--}" in
    -) ;;
    /*) workdir=$6 ;;
    "~" | "~/"*) workdir=$(hpcinit_home_path "$6") ;;
    *) workdir=$HOME/$6 ;;
  esac
  scratch=$(cd -P "$HOME/scratch" 2>/dev/null && pwd) || scratch=$HOME
  hpcinit_tag place "$workdir|$scratch"
  [ "$3" = 1 ] && [ "$5" = 1 ] || return 0
  hpcinit_node_hostkey "$4" "$2"
}

# The node's host keys as the cluster knows them: from the cluster's own known-hosts file
# where it lists the node (tag `hostkey cluster TYPE KEY`), else read from the node itself,
# from here, inside the cluster (tag `hostkey scan TYPE KEY`); `hostkey none -` when neither
# gives one.
hpcinit_node_hostkey() { # node cluster-known-hosts-file
  exec 2>&1
  node=$1 file=$2 found=
  if [ -r "$file" ]; then
    while read -r names type key _; do
      case "$names" in '' | '#'* | '@'*) continue ;; esac
      hpcinit_tag hostkey cluster "$type $key"
      found=1
    done < <(ssh-keygen -F "$node" -f "$file" 2>/dev/null)
  fi
  [ -n "$found" ] && return 0
  while read -r names type key _; do
    case "$names" in '' | '#'*) continue ;; esac
    hpcinit_tag hostkey scan "$type $key"
    found=1
  done < <(ssh-keyscan -T 5 "$node" 2>/dev/null)
  [ -n "$found" ] || hpcinit_tag hostkey none -
}
