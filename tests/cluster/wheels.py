"""Builds the test cluster's wheelhouse: tiny pure-Python wheels, so pip installs offline, as on
clusters whose login nodes install only from the site's wheelhouse. Usage: wheels.py DIR"""
import base64, hashlib, os, sys, zipfile

PACKAGES = {
    # name: (version, {file: text}, requires)
    "hpcinit_demo": ("1.0", {"hpcinit_demo/__init__.py": 'GREETING = "hello from hpcinit_demo"\n'}, []),
    "hpcinit_extra": ("1.0", {"hpcinit_extra.py": "import hpcinit_demo\nVALUE = 42\n"}, ["hpcinit-demo"]),
    # Installs, but cannot be imported: for the import check.
    "hpcinit_broken": ("1.0", {"hpcinit_broken/__init__.py": 'raise ImportError("hpcinit_broken is broken on purpose")\n'}, []),
}


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build(out, dist, version, files, requires):
    info = f"{dist}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {dist.replace('_', '-')}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = dict(files)
    files[f"{info}/METADATA"] = meta
    files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: hpcinit-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/top_level.txt"] = dist + "\n"
    path = os.path.join(out, f"{dist}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w") as z:
        lines = []
        for name, text in files.items():
            data = text.encode()
            z.writestr(name, data)
            lines.append(record_line(name, data))
        lines.append(f"{info}/RECORD,,")
        z.writestr(f"{info}/RECORD", "\n".join(lines) + "\n")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for dist, (version, files, requires) in PACKAGES.items():
        build(out, dist, version, files, requires)


main()
