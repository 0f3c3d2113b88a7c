# The directories hpcinit makes on the cluster (bash): ~/sbatch; ~/scratch as a link to the
# site's scratch, never over anything already there; ~/scratch/logs and
# ~/scratch/code-snapshots wherever ~/scratch leads; a course's shared data linked as
# ~/<project>-data. A failure is `@@hpcinit:fail layout`.

hpcinit_layout() { # the site's scratch to link ~/scratch to (empty: kept as it is); a course's data link and target
  mkdir -p "$HOME"/sbatch || { hpcinit_tag fail layout; return 1; }
  # The course's shared data, linked as ~/<project>-data, never over anything.
  if [ -n "${2:-}" ]; then
    [ -e "$HOME/$2" ] || [ -L "$HOME/$2" ] || ln -s "$3" "$HOME/$2" || { hpcinit_tag fail layout; return 1; }
  fi
  if [ -n "${1:-}" ]; then
    [ -e "$HOME"/scratch ] || [ -L "$HOME"/scratch ] || ln -s "$1" "$HOME"/scratch ||
      { hpcinit_tag fail layout; return 1; }
  fi
  [ -d "$HOME"/scratch ] && mkdir -p "$HOME"/scratch/logs "$HOME"/scratch/code-snapshots ||
    { hpcinit_tag fail layout; return 1; }
}
