# Reading a built environment on the cluster (bash), changing nothing: the interpreter's
# version, the modules the build loaded, the requirement lines it was built from, its marker and
# `pip freeze` as it is now. `hpcinit_modules` (sent with this file) loads what its jobs load.
# Tags: env-missing, env-modules-failed, env-built, env-marker, env-python, env-module,
# env-from-lock, env-requirement, env-freeze, env-done.

hpcinit_environment() { # venv
  venv=$1
  if [ ! -x "$venv"/bin/python ]; then hpcinit_tag env-missing "$venv"; return 0; fi
  hpcinit_modules >/dev/null 2>&1 || hpcinit_tag env-modules-failed
  hpcinit_tag env-built "$(cd -P "$venv" 2>/dev/null && pwd)"
  [ -f "$venv"/.hpcinit-ok ] && hpcinit_tag env-marker "$(head -n 1 "$venv"/.hpcinit-ok)"
  "$venv"/bin/python -c 'import sys; print("@@hpcinit:env-python", sys.version.split()[0])' 2>&1
  if [ -s "$venv"/.hpcinit/modules.txt ]; then
    sed 's/^/@@hpcinit:env-module /' "$venv"/.hpcinit/modules.txt
  else
    module -t list 2>&1 | sed 's/^/@@hpcinit:env-module /'
  fi
  if [ -f "$venv"/.hpcinit/locked.txt ]; then
    hpcinit_tag env-from-lock
  elif [ -f "$venv"/.hpcinit/requirements.txt ]; then
    sed 's/^/@@hpcinit:env-requirement /' "$venv"/.hpcinit/requirements.txt
  fi
  "$venv"/bin/python -m pip freeze 2>/dev/null | sed 's/^/@@hpcinit:env-freeze /'
  hpcinit_tag env-done
}
