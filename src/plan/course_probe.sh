# `hpcinit course check --probe` on the cluster (bash), as the teaching assistant: what a
# student's run will need, checked without installing anything. Each check is a tagged line,
# `@@hpcinit:row ok|fail|skip WHAT|FIX`.
# Args: scheduler (slurm|lsf), reset, modules to load (one word, `,`-separated), the Python module's base
# name and version (or `-`), account (or `-`), reservation (or `-`); the requirement lines on
# standard input.
hpcinit_course_probe() {
  exec 2>&1
  sched=$1 reset=$2 loads=$3 base=$4 ver=$5 account=$6 reservation=$7
  reqs=$(cat)
  row() { printf '@@hpcinit:row %s %s|%s\n' "$1" "$2" "${3:-}"; }
  # The modules the course's jobs load, then the Python module of the course's version.
  eval "$reset" >/dev/null 2>&1
  IFS=, read -r -a mods <<<"$loads"
  if [ ${#mods[@]} -gt 0 ] && ! module load "${mods[@]}" >/dev/null 2>&1; then
    row fail "module load ${mods[*]}: fails" "check the module names with \`module avail\` on the site"
  elif [ ${#mods[@]} -gt 0 ]; then
    row ok "module load ${mods[*]}"
  fi
  if [ "$base" != - ]; then
    py=$( (module -t avail "$base" 2>&1) | sed 's/([^)]*)//g; s/<[^>]*>//g' | tr -d ' ' | grep -E "^$base/$ver(\.[0-9]+)*(-.*)?$" | sort -V | tail -n 1)
    if [ -n "$py" ] && module load "$py" >/dev/null 2>&1; then
      row ok "python $ver: $py loads ($(python3 --version 2>&1))"
    else
      row fail "python $ver: no $base module of that version loads" "choose a version \`module avail $base\` lists"
    fi
  fi
  if [ "$account" != - ]; then
    if [ "$sched" = slurm ] && command -v sacctmgr >/dev/null 2>&1 \
      && out=$(sacctmgr -nP show assoc where "account=$account" format=account 2>&1); then
      if [ -n "$out" ]; then row ok "account $account exists"; else row fail "account $account: unknown to the scheduler" "check the account's name with the site (\`sacctmgr show assoc user=\$USER\`)"; fi
    else
      row skip "account $account: the scheduler keeps no accounts to ask (no accounting database)"
    fi
  fi
  if [ "$reservation" != - ]; then
    case "$sched" in
      slurm) found=$(scontrol show reservation "$reservation" 2>/dev/null | grep -c "ReservationName=$reservation ") ;;
      lsf) found=$(brsvs 2>/dev/null | grep -cw "$reservation") ;;
    esac
    if [ "${found:-0}" -gt 0 ]; then row ok "reservation $reservation exists"; else row fail "reservation $reservation: not found" "ask the site for the reservation, or fix its name in the course file"; fi
  fi
  # Each requirement resolved by pip on the site (its index or wheelhouse), installing nothing.
  [ -n "$reqs" ] || return 0
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/hpcinit-course-XXXXXX") || return 1
  if ! python3 -m venv "$tmp/venv" >/dev/null 2>&1; then
    row skip "requirements: no python3 -m venv here to check them with"
  elif grep -q -- '--hash=' <<<"$reqs"; then
    # Hashes: pip checks the set as a whole (every requirement, dependencies too, needs one).
    printf '%s\n' "$reqs" >"$tmp/reqs.txt"
    names=$(sed 's/ .*//' "$tmp/reqs.txt" | paste -sd ' ')
    if out=$("$tmp/venv/bin/python" -m pip install --dry-run --ignore-installed --quiet --disable-pip-version-check -r "$tmp/reqs.txt" 2>&1); then
      row ok "requirements $names resolve and match their hashes"
    else
      why=$(printf '%s\n' "$out" | grep -E "^ERROR" | tail -n 1)
      row fail "requirements $names: ${why:-pip cannot resolve them}" "fix the hashes (\`pip hash FILE\` on the wheel the site serves), or ask the site for the package"
    fi
  else
    while IFS= read -r r; do
      [ -n "$r" ] || continue
      # As a requirements file's line, so its options (`--hash=…`) count as pip counts them.
      printf '%s\n' "$r" >"$tmp/line.txt"
      name=${r%% *}
      if out=$("$tmp/venv/bin/python" -m pip install --dry-run --ignore-installed --quiet --disable-pip-version-check -r "$tmp/line.txt" 2>&1); then
        row ok "requirement $name resolves"
      else
        why=$(printf '%s\n' "$out" | grep -E "^ERROR" | tail -n 1)
        row fail "requirement $name: ${why:-pip cannot resolve it}" "fix the line, or ask the site for the package (its wheelhouse)"
      fi
    done <<<"$reqs"
  fi
  rm -rf "$tmp"
}
