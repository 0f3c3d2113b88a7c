# hpcinit: prove the new environment works. For every requirement installed, find the
# distribution's top-level import names (top_level.txt, else its files) and import each one,
# with the same modules loaded as jobs will have. Prints one tagged line per import, for the
# packages a person imports: private helpers (`_name`) and a compiled wheel's hashed helper
# module (`<hash>__mypyc`, imported by its package) are left out. Then, with
# a second argument, writes there what `pip freeze` would print, when it can be sure of it.
import importlib, importlib.metadata as md, os, re, sys

reqs = sys.argv[1]
names = []
for line in open(reqs, encoding="utf-8"):
    line = line.strip()
    if not line or line.startswith("-"):
        continue
    m = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
    if m:
        names.append(m.group(0))

def top_level(dist):
    text = dist.read_text("top_level.txt")
    if text:
        return [t.strip() for t in text.split() if t.strip()]
    tops = []
    for f in dist.files or []:
        first = f.parts[0] if f.parts else ""
        if first.endswith((".dist-info", ".egg-info", ".data")) or first in ("..", "bin", "__pycache__"):
            continue
        name = first[:-3] if first.endswith(".py") else first
        if "." in name or not name.isidentifier():
            continue
        if name not in tops:
            tops.append(name)
    return tops

failed = 0
print("@@hpcinit:python %s %s" % (sys.version.split()[0], sys.prefix), flush=True)
for n in names:
    try:
        dist = md.distribution(n)
    except md.PackageNotFoundError:
        print("@@hpcinit:import-error %s not installed" % n, flush=True)
        failed += 1
        continue
    for top in top_level(dist) or [n.replace("-", "_").lower()]:
        if top.startswith("_") or top.endswith("__mypyc"):
            continue
        try:
            importlib.import_module(top)
            print("@@hpcinit:import %s %s" % (top, dist.version), flush=True)
        except Exception as e:
            print("@@hpcinit:import-error %s %s: %s" % (top, type(e).__name__, e), flush=True)
            failed += 1

# A version as pip prints it (PEP 440's normal form); anything else is left to pip.
NORMAL = re.compile(
    r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*((a|b|rc)(0|[1-9][0-9]*))?(\.post(0|[1-9][0-9]*))?"
    r"(\.dev(0|[1-9][0-9]*))?(\+[a-z0-9]+(\.[a-z0-9]+)*)?"
)


def freeze():
    """`pip freeze`'s lines for a plain environment (pip 22+ on Python 3.11+, where pip reads
    importlib.metadata too): the distributions inside the venv, first of a name wins, pip's own
    tools left out, `Name==version`, sorted by lower-case name. None when pip would print more
    than that (from a URL, editable, eggs, a version not in normal form, the build tools on
    3.12+ where pip versions differ): pip freeze itself then runs."""
    if sys.version_info < (3, 11):
        return None
    prefix = os.path.realpath(sys.prefix)
    skip = {"pip", "setuptools", "distribute", "wheel", "python", "wsgiref", "argparse"}
    seen, lines = set(), []
    for p in sys.path:
        if os.path.isdir(p) and any(f.endswith((".egg-link", ".egg")) for f in os.listdir(p)):
            return None
    for d in md.distributions():
        name = d.metadata["Name"]
        if not name:
            return None
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        where = os.path.realpath(str(d.locate_file("")))
        if where != prefix and not where.startswith(prefix + os.sep):
            continue
        if d.read_text("direct_url.json") is not None:
            return None
        if key in skip:
            if sys.version_info >= (3, 12) and key != "pip":
                return None
            continue
        if not NORMAL.fullmatch(d.version or ""):
            return None
        lines.append("%s==%s" % (name, d.version))
    return sorted(lines, key=str.lower)


if not failed and len(sys.argv) > 2:
    try:
        lines = freeze()
    except Exception:
        lines = None
    if lines is not None:
        with open(sys.argv[2], "w", encoding="utf-8") as f:
            f.write("".join(l + "\n" for l in lines))
sys.exit(1 if failed else 0)
