# Writing a file hpcinit owns on the cluster (bash): the text on standard input goes to a
# temporary file beside the target, gets its mode, and is renamed into place, so a reader never
# sees half a file.

hpcinit_write_file() { # path mode; the text on standard input
  mkdir -p "$(dirname "$1")" && cat >"$1".hpcinit-tmp && chmod "$2" "$1".hpcinit-tmp &&
    mv -f "$1".hpcinit-tmp "$1"
}
