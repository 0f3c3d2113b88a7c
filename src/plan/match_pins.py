# hpcinit: match the versions pinned in hpcinit.lock against what this cluster's pip can
# install (its index, wheelhouse or find-links, for this Python and platform), before anything
# is installed. Usage: python - PINS MODE OUT, MODE = exact | upgrades. One tagged line per pin:
#   @@hpcinit:pin KIND NAME WANTED FOUND AVAILABLE
# KIND: exact; same-release (the same version with another local label, e.g. +computecanada);
# upgrade (the closest newer version: used only with MODE upgrades); older (only older ones);
# none (no version at all). A line that is not `name==version` (`pkg @ URL`) is passed on
# unchanged and reported as `@@hpcinit:pin-as-is LINE`.
# OUT receives the requirement lines to install. Exit 3 when a pin cannot be met as allowed.
import subprocess, sys

from pip._vendor.packaging.version import InvalidVersion, Version

pins_file, mode, out_file = sys.argv[1], sys.argv[2], sys.argv[3]


def parse(v):
    try:
        return Version(v)
    except InvalidVersion:
        return None


def via_pip_internals(names):
    """pip's own finder, as `pip index versions` uses it, once for every name."""
    from pip._internal.cli import cmdoptions
    from pip._internal.commands import create_command

    cmd = create_command("index")
    options, _ = cmd.parse_args(["versions", "placeholder"])
    target = cmdoptions.make_target_python(options)
    found = {}
    with cmd._build_session(options) as session:
        finder = cmd._build_package_finder(
            options=options, session=session, target_python=target, ignore_requires_python=False
        )
        for n in names:
            found[n] = sorted({c.version for c in finder.find_all_candidates(n)})
    return found


def via_pip_index(names):
    """The same through `pip index versions NAME`, one process per name (slower)."""
    found = {}
    for n in names:
        r = subprocess.run(
            [sys.executable, "-m", "pip", "index", "versions", n], capture_output=True, text=True
        )
        versions = []
        for line in r.stdout.splitlines():
            if line.startswith("Available versions:"):
                versions = [parse(v.strip()) for v in line.split(":", 1)[1].split(",")]
        found[n] = sorted(v for v in versions if v is not None)
    return found


pins = []
for line in open(pins_file, encoding="utf-8"):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    name, sep, version = line.partition("==")
    version = version.lstrip("=")
    if sep and parse(version) is not None and " " not in name and "@" not in name:
        pins.append((name.strip(), version.strip(), line))
    else:
        pins.append((None, None, line))

names = [p[0] for p in pins if p[0]]
try:
    available = via_pip_internals(names)
except Exception as e:  # pip's internals moved: ask pip itself, name by name
    print("@@hpcinit:pin-finder pip index versions (%s: %s)" % (type(e).__name__, e), flush=True)
    available = via_pip_index(names)

unmet = 0
lines = []
for name, wanted, line in pins:
    if name is None:
        print("@@hpcinit:pin-as-is %s" % line, flush=True)
        lines.append(line)
        continue
    w = parse(wanted)
    have = [v for v in available.get(name, []) if not v.is_prerelease or w.is_prerelease]
    shown = ",".join(str(v) for v in have[-8:]) or "-"
    same = [v for v in have if v == w] or [v for v in have if v.public == w.public]
    newer = [v for v in have if v > w and v.public != w.public]
    older = [v for v in have if v < w and v.public != w.public]
    if same:
        kind, found = ("exact" if str(same[-1]) == str(w) else "same-release"), same[-1]
    elif newer:
        kind, found = "upgrade", newer[0]
    elif older:
        kind, found = "older", older[-1]
    else:
        kind, found = "none", None
    ok = kind in ("exact", "same-release") or (kind == "upgrade" and mode == "upgrades")
    if ok:
        lines.append("%s==%s" % (name, found))
    else:
        unmet += 1
    print("@@hpcinit:pin %s %s %s %s %s" % (kind, name, wanted, found or "-", shown), flush=True)

with open(out_file, "w", encoding="utf-8") as f:
    f.write("".join(l + "\n" for l in lines))
sys.exit(3 if unmet else 0)
