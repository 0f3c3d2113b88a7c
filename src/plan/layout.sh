# The directories hpcinit makes on the cluster (bash): ~/sbatch; ~/scratch as a link to the
# site's scratch, never over anything already there; ~/scratch/logs and
# ~/scratch/code-snapshots wherever ~/scratch leads. A failure is `@@hpcinit:fail layout`.

hpcinit_layout() { # the site's scratch to link ~/scratch to; none: ~/scratch is kept as it is
  mkdir -p "$HOME"/sbatch || { hpcinit_tag fail layout; return 1; }
  if [ -n "${1:-}" ]; then
    [ -e "$HOME"/scratch ] || [ -L "$HOME"/scratch ] || ln -s "$1" "$HOME"/scratch ||
      { hpcinit_tag fail layout; return 1; }
  fi
  [ -d "$HOME"/scratch ] && mkdir -p "$HOME"/scratch/logs "$HOME"/scratch/code-snapshots ||
    { hpcinit_tag fail layout; return 1; }
}
