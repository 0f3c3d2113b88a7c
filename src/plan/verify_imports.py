# hpcinit: prove the new environment works. For every requirement installed, find the
# distribution's top-level import names (top_level.txt, else its files) and import each one,
# with the same modules loaded as jobs will have. Prints one tagged line per import.
import importlib, importlib.metadata as md, re, sys

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
        if top.startswith("_"):
            continue
        try:
            importlib.import_module(top)
            print("@@hpcinit:import %s %s" % (top, dist.version), flush=True)
        except Exception as e:
            print("@@hpcinit:import-error %s %s: %s" % (top, type(e).__name__, e), flush=True)
            failed += 1
sys.exit(1 if failed else 0)
