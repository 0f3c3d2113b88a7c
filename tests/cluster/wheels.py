"""Builds the test cluster's wheelhouse: tiny pure-Python wheels, so pip installs offline, as on
clusters whose login nodes install only from the site's wheelhouse. Usage: wheels.py DIR (also
writes DIR-alliance and DIR-easybuild)"""
import base64, hashlib, os, sys, zipfile

PACKAGES = {
    # name: [(version, {file: text}, requires)]
    "hpcinit_demo": [("1.0", {"hpcinit_demo/__init__.py": 'GREETING = "hello from hpcinit_demo"\nVERSION = "1.0"\n'}, [])],
    "hpcinit_extra": [("1.0", {"hpcinit_extra.py": "import hpcinit_demo\nVALUE = 42\n"}, ["hpcinit-demo"])],
    # Laid out as a mypyc-compiled wheel (tomli 2.x): a hashed helper module beside the package,
    # both named in top_level.txt; the import check lists the package only.
    "hpcinit_compiled": [("1.0", {
        "c0ffee00c0ffee00c0ff__mypyc.py": "COMPILED = True\n",
        "hpcinit_compiled/__init__.py": "import c0ffee00c0ffee00c0ff__mypyc\nVALUE = 7\n",
        "top_level.txt": "c0ffee00c0ffee00c0ff__mypyc\nhpcinit_compiled\n",
    }, [])],
    # Installs, but cannot be imported: for the import check.
    "hpcinit_broken": [("1.0", {"hpcinit_broken/__init__.py": 'raise ImportError("hpcinit_broken is broken on purpose")\n'}, [])],
}

# Each naming scheme's Python module adds its own wheelhouse, as a site's Python module points
# pip at the site's wheels: what one cluster offers, the other may not (lock reproduction).
SCHEMES = {
    # Alliance style (python/3.11): hpcinit_stats 1.2 only.
    "alliance": {
        "hpcinit_stats": [("1.2", {"hpcinit_stats.py": 'VERSION = "1.2"\n'}, [])],
    },
    # EasyBuild style (Python/3.11.x-GCCcore-…): a newer hpcinit_demo, and hpcinit_stats without 1.2.
    "easybuild": {
        "hpcinit_demo": [("2.0", {"hpcinit_demo/__init__.py": 'GREETING = "hello from hpcinit_demo"\nVERSION = "2.0"\n'}, [])],
        "hpcinit_stats": [
            ("1.0", {"hpcinit_stats.py": 'VERSION = "1.0"\n'}, []),
            ("1.3", {"hpcinit_stats.py": 'VERSION = "1.3"\n'}, []),
        ],
    },
}


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build(out, dist, version, files, requires):
    info = f"{dist}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {dist.replace('_', '-')}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = dict(files)
    top_level = files.pop("top_level.txt", dist + "\n")
    files[f"{info}/METADATA"] = meta
    files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: hpcinit-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/top_level.txt"] = top_level
    path = os.path.join(out, f"{dist}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w") as z:
        lines = []
        for name, text in files.items():
            data = text.encode()
            z.writestr(name, data)
            lines.append(record_line(name, data))
        lines.append(f"{info}/RECORD,,")
        z.writestr(f"{info}/RECORD", "\n".join(lines) + "\n")


def build_all(out, packages):
    os.makedirs(out, exist_ok=True)
    for dist, versions in packages.items():
        for version, files, requires in versions:
            build(out, dist, version, files, requires)


def main():
    out = sys.argv[1]
    build_all(out, PACKAGES)
    for scheme, packages in SCHEMES.items():
        build_all(f"{out}-{scheme}", packages)


main()
