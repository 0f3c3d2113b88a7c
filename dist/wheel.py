#!/usr/bin/env python3
"""Packs a static hpcinit binary into a pip wheel, as ruff and uv ship theirs.

    dist/wheel.py BINARY VERSION OUT_DIR [ARCH]

The binary goes to `hpcinit-VERSION.data/scripts/hpcinit`, which pip, pipx and uv install on
the environment's PATH. A static (musl) binary needs no C library from the system, so one wheel
serves every Linux x86_64: it is tagged manylinux_2_17 (manylinux2014: glibc 2.17 and newer, old
login nodes included) and musllinux_1_1 (Alpine). `pyproject.toml` builds the same wheel from
source with maturin (`bindings = "bin"`) where no prebuilt one fits.
"""
import base64
import hashlib
import os
import sys
import zipfile

binary, version, out_dir = sys.argv[1:4]
arch = sys.argv[4] if len(sys.argv) > 4 else "x86_64"
tags = [f"py3-none-manylinux_2_17_{arch}", f"py3-none-manylinux2014_{arch}", f"py3-none-musllinux_1_1_{arch}"]
platform = ".".join(t.split("-", 2)[2] for t in tags)
name = f"hpcinit-{version}-py3-none-{platform}.whl"
dist_info = f"hpcinit-{version}.dist-info"
readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md"), encoding="utf-8").read()

metadata = f"""Metadata-Version: 2.1
Name: hpcinit
Version: {version}
Summary: From a fresh laptop to a working setup on a university HPC cluster in one command
License: MIT OR Apache-2.0
Requires-Python: >=3.7
Classifier: Environment :: Console
Classifier: Intended Audience :: Science/Research
Classifier: Operating System :: POSIX :: Linux
Classifier: Programming Language :: Rust
Classifier: Topic :: System :: Distributed Computing
Description-Content-Type: text/markdown

{readme}"""
wheel = "Wheel-Version: 1.0\nGenerator: hpcinit dist/wheel.py\nRoot-Is-Purelib: false\n" + "".join(
    f"Tag: {t}\n" for t in tags
)


def digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


files = [
    (f"hpcinit-{version}.data/scripts/hpcinit", open(binary, "rb").read(), 0o755),
    (f"{dist_info}/METADATA", metadata.encode(), 0o644),
    (f"{dist_info}/WHEEL", wheel.encode(), 0o644),
]
record = "".join(f"{path},{digest(data)},{len(data)}\n" for path, data, _ in files) + f"{dist_info}/RECORD,,\n"
files.append((f"{dist_info}/RECORD", record.encode(), 0o644))

os.makedirs(out_dir, exist_ok=True)
path = os.path.join(out_dir, name)
with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
    for arcname, data, mode in files:
        info = zipfile.ZipInfo(arcname, date_time=(2026, 1, 1, 0, 0, 0))
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, data)
print(path)
