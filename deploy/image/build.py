#!/usr/bin/env python3
"""Build the lucid-tron and lucid-tor images as OCI archives with no container registry and no Docker engine.

    scripts/build-image --arch arm64 --output dist/images

The root filesystems are assembled from Debian 13 (trixie) packages, fetched for the target architecture by the host's
apt into a private state directory and unpacked with dpkg-deb: nothing runs under emulation except the target's own
Python, once, to compile byte-code. Only the files a service needs are copied (the interpreter, its standard library,
the shared libraries that it and our wheels load, found by reading the ELF files' DT_NEEDED entries, CA certificates,
tzdata), so the image has no shell, no apt, no dpkg and no pip. The virtualenv is filled from wheels only (stem, the
one sdist, is built into a wheel on the host: it is pure Python). The OCI layout is written here with tarfile and json:
every mtime is SOURCE_DATE_EPOCH, owners are explicit and entries sorted, so a build is a function of the commit, the
Debian packages and the wheels (see deploy/README.md, "Images without a registry").

Host requirements: Debian's apt and dpkg-deb, Python 3.11+, and for arm64 on an x86 host qemu-user-static with
binfmt_misc (the chroot that compiles byte-code runs the aarch64 interpreter). Root: chroot needs it.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SECURITY = "http://deb.debian.org/debian-security"
SUITE = "trixie"
PYTHON = "3.13"
NONROOT = 65532
TOR_UID = 10050
#: Labels of deploy/Dockerfile and deploy/tor.Dockerfile; the two routes must describe the same image.
VENDOR = "Lucid"
LICENSE = "AGPL-3.0-or-later"
BASE_NAME = f"debian:13 packages ({SUITE}), assembled by scripts/build-image"


@dataclass(frozen=True)
class Arch:
    name: str  # Debian and OCI architecture
    triplet: str  # Debian multiarch directory
    wheel: str  # the machine in manylinux wheel tags
    elf_machine: int  # e_machine: a wrong-architecture file must not slip in


ARCHES = {
    "arm64": Arch("arm64", "aarch64-linux-gnu", "aarch64", 183),
    "amd64": Arch("amd64", "x86_64-linux-gnu", "x86_64", 62),
}

#: Standard-library parts a service never imports. readline and gdbm are GPL-licensed libraries; sqlite3 is 2 MB that
#: nothing here uses; the rest is tooling.
STDLIB_EXCLUDED = re.compile(
    r"^usr/lib/python3\.\d+/("
    r"ensurepip|idlelib|tkinter|turtledemo|pydoc_data|config-[^/]+|site-packages|dist-packages|__phello__"
    r"|turtle\.py|curses|sqlite3|lib-dynload/(_curses|_curses_panel|readline|_dbm|_gdbm|_sqlite3|_test\w*"
    r"|_xxtestfuzz|xxlimited\w*"
    r"|_ctypes_test|xxsubtype)\.cpython[^/]*"
    r")(/|$)"
)
#: Test suites (pycryptodome's carries private keys) and C sources or stubs that wheels ship beside their modules.
SITE_EXCLUDED = re.compile(r"(^|/)(SelfTest|tests)(/|$)|\.(pyi|pyx|pxd|pxi|c|h|cpp)$")
#: The service image may hold none of these, anywhere: a shell, a package manager, a test-only or GPL package.
FORBIDDEN_NAMES = {"sh", "bash", "dash", "ash", "zsh", "busybox", "apt", "apt-get", "dpkg", "dpkg-deb", "pip",
                   "pip3", f"pip{PYTHON}", "ensurepip", ".git"}
FORBIDDEN_DISTRIBUTIONS = {"secantusdb", "tronpy", "pytest", "bip_utils", "hypothesis", "pip", "setuptools"}
#: The service image's ENV and EXPOSE, as deploy/Dockerfile sets them (tests/unit/test_image_build.py compares): 50051
#: is gRPC with mutual TLS, 50052 the plaintext health-only port when HEALTH_PORT is set (compose and k3s set it).
SERVICE_ENV = ["PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin", "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1",
               "PYTHONSAFEPATH=1", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", "GRPC_HOST=0.0.0.0",
               "GRPC_PORT=50051", "GRPC_VERBOSITY=ERROR"]
SERVICE_PORTS = (50051, 50052)
#: A PEM private key with a body, not merely its header (libraries carry the header as a constant).
PRIVATE_KEY = re.compile(rb"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----\s+(?:[A-Za-z0-9+/=:,-]+\s+){2,}-----END")


def log(message: str) -> None:
    print(f"build-image: {message}", file=sys.stderr, flush=True)


def run(*command: str | Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(part) for part in command], check=True, **kwargs)


# -- Debian packages ----------------------------------------------------------------------------------------------


class Debian:
    """Trixie's packages for one architecture: downloaded by the host's apt, unpacked once, kept in the cache."""

    def __init__(self, cache: Path, arch: Arch) -> None:
        self.arch = arch
        self.base = cache / f"debian-{SUITE}-{arch.name}"
        self.unpacked = self.base / "unpacked"
        for sub in ("state/lists/partial", "cache/archives/partial", "etc/apt.conf.d", "etc/preferences.d",
                    "etc/sources.list.d"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        (self.base / "state/status").touch()
        keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
        (self.base / "etc/sources.list").write_text(
            f"deb [arch={arch.name} signed-by={keyring}] {DEBIAN_MIRROR} {SUITE} main\n"
            f"deb [arch={arch.name} signed-by={keyring}] {DEBIAN_MIRROR} {SUITE}-updates main\n"
            f"deb [arch={arch.name} signed-by={keyring}] {DEBIAN_SECURITY} {SUITE}-security main\n"
        )
        settings = {
            "APT::Architecture": arch.name,
            "APT::Install-Recommends": "false",
            "APT::Sandbox::User": "root",  # the cache is root's; _apt could not write to it
            "Dir::State": self.base / "state",
            "Dir::State::status": self.base / "state/status",
            "Dir::Cache": self.base / "cache",
            "Dir::Etc::SourceList": self.base / "etc/sources.list",
            "Dir::Etc::SourceParts": self.base / "etc/sources.list.d",
            "Dir::Etc::Preferences": self.base / "etc/preferences",
            "Dir::Etc::PreferencesParts": self.base / "etc/preferences.d",
            "Dir::Etc::Parts": self.base / "etc/apt.conf.d",
        }
        config = "".join(f'{key} "{value}";\n' for key, value in settings.items())
        config += f'APT::Architectures {{ "{arch.name}"; }};\n'
        (self.base / "apt.conf").write_text(config)
        self.env = {**os.environ, "APT_CONFIG": str(self.base / "apt.conf"), "DEBIAN_FRONTEND": "noninteractive"}
        self.packages: dict[str, Path] = {}
        self.versions: dict[str, str] = {}
        self.controls: dict[str, str] = {}

    def fetch(self, names: Iterable[str], *, refresh: bool) -> None:
        """Download `names` and their dependencies; unpack each package into its own directory."""
        names = sorted(set(names))
        if refresh or not any((self.base / "state/lists").glob("*Packages*")):
            run("apt-get", "update", "-qq", env=self.env)
        plan = run("apt-get", "install", "-s", "-qq", "-y", *names, env=self.env, capture_output=True, text=True)
        run("apt-get", "install", "-d", "-qq", "-y", *names, env=self.env, stdout=subprocess.DEVNULL)
        for line in plan.stdout.splitlines():
            match = re.match(r"Inst (\S+) \((\S+) .*\[(\S+)\]\)", line)
            if not match:
                continue
            name, version, arch = match.groups()
            deb = self.base / "cache/archives" / f"{name}_{version.replace(':', '%3a')}_{arch}.deb"
            target = self.unpacked / f"{name}_{version}"
            if not (target / ".unpacked").exists():
                shutil.rmtree(target, ignore_errors=True)
                target.mkdir(parents=True)
                run("dpkg-deb", "-x", deb, target)
                (target / ".control").write_text(run("dpkg-deb", "-f", deb, capture_output=True, text=True).stdout)
                (target / ".unpacked").touch()
            self.packages[name] = target
            self.versions[name] = version
            self.controls[name] = (target / ".control").read_text()
        missing = [name for name in names if name not in self.packages]
        if missing:
            raise SystemExit(f"build-image: apt did not plan {missing}")

    def path(self, package: str, rel: str) -> Path:
        return self.packages[package] / rel

    def library_dirs(self) -> list[tuple[str, Path]]:
        """(package, directory) for every directory the dynamic loader searches, in its order."""
        dirs = []
        for rel in (f"usr/lib/{self.arch.triplet}", "usr/lib", f"lib/{self.arch.triplet}", "lib"):
            for name, root in sorted(self.packages.items()):
                if (root / rel).is_dir():
                    dirs.append((name, root / rel))
        return dirs


# -- ELF --------------------------------------------------------------------------------------------------------


@dataclass
class Elf:
    machine: int
    interpreter: str | None
    needed: list[str]
    runpath: list[str]


def read_elf(path: Path) -> Elf | None:
    """The dynamic-linking facts of an ELF64 little-endian file (both target architectures are), or None."""
    with path.open("rb") as stream:
        header = stream.read(64)
        if len(header) < 64 or header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
            return None
        data = path.read_bytes()
    machine = struct.unpack_from("<H", data, 18)[0]
    phoff, shoff = struct.unpack_from("<QQ", data, 32)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 54)
    interpreter = None
    for index in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + index * phentsize)
        if p_type == 3:  # PT_INTERP
            interpreter = data[p_offset : p_offset + p_filesz].rstrip(b"\0").decode()
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + index * shentsize) for index in range(shnum)]
    needed: list[str] = []
    runpath: list[str] = []
    for _, sh_type, _, _, sh_offset, sh_size, sh_link, _, _, _ in sections:
        if sh_type != 6:  # SHT_DYNAMIC
            continue
        strtab_offset = sections[sh_link][4]

        def string(offset: int) -> str:
            end = data.index(b"\0", strtab_offset + offset)
            return data[strtab_offset + offset : end].decode()

        for entry in range(sh_offset, sh_offset + sh_size, 16):
            tag, value = struct.unpack_from("<qQ", data, entry)
            if tag == 0:
                break
            if tag == 1:
                needed.append(string(value))
            elif tag in (15, 29):  # DT_RPATH, DT_RUNPATH
                runpath.extend(string(value).split(":"))
    return Elf(machine, interpreter, needed, runpath)


# -- the root filesystem ------------------------------------------------------------------------------------------


@dataclass
class Rootfs:
    """A root filesystem being assembled on disk; owners other than root:root are recorded, not chowned."""

    root: Path
    debian: Debian
    owners: dict[str, tuple[int, int]] = field(default_factory=dict)
    used_packages: set[str] = field(default_factory=set)

    def mkdir(self, rel: str, mode: int = 0o755, owner: tuple[int, int] | None = None) -> None:
        path = self.root / rel
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(mode)
        if owner:
            self.owners[rel] = owner

    def write(self, rel: str, content: str | bytes, mode: int = 0o644) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        path.chmod(mode)

    def symlink(self, rel: str, target: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            path.unlink()
        path.symlink_to(target)

    def copy(self, package: str, rel: str) -> None:
        """One file or symlink from a package; a symlink's target comes too (it must resolve inside the image)."""
        source = self.debian.path(package, rel)
        destination = self.root / rel
        if destination.is_symlink() or destination.exists():
            return
        destination.parent.mkdir(parents=True, exist_ok=True)
        self.used_packages.add(package)
        if source.is_symlink():
            target = os.readlink(source)
            destination.symlink_to(target)
            resolved = os.path.normpath(target[1:] if target.startswith("/") else str(Path(rel).parent / target))
            self.copy_path(resolved)
        elif source.is_file():
            shutil.copy2(source, destination)
        else:
            raise FileNotFoundError(f"{package}: {rel}")

    def copy_path(self, rel: str) -> None:
        """`rel` from whichever fetched package ships it (merged /usr: /lib is usr/lib)."""
        rel = re.sub(r"^(lib|lib64|bin|sbin)/", r"usr/\1/", rel)
        for package, root in sorted(self.debian.packages.items()):
            if (root / rel).is_symlink() or (root / rel).exists():
                self.copy(package, rel)
                return
        raise FileNotFoundError(rel)

    def copy_tree(self, package: str, rel: str, excluded: re.Pattern[str] | None = None) -> None:
        base = self.debian.path(package, rel)
        for path in sorted(base.rglob("*")):
            member = str(path.relative_to(self.debian.packages[package]))
            if excluded and excluded.search(member):
                continue
            if path.is_symlink() or path.is_file():
                self.copy(package, member)

    def elf_files(self) -> Iterator[tuple[str, Elf]]:
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                elf = read_elf(path)
                if elf is not None:
                    yield str(path.relative_to(self.root)), elf

    def add_library_closure(self) -> None:
        """Copy every shared library an ELF file here needs, recursively, from the fetched packages."""
        library_dirs = self.debian.library_dirs()
        done: set[str] = set()
        while True:
            added = False
            for rel, elf in self.elf_files():
                if rel in done:
                    continue
                done.add(rel)
                if elf.machine != self.debian.arch.elf_machine:
                    raise SystemExit(f"build-image: {rel} is not a {self.debian.arch.name} ELF file")
                if elf.interpreter:
                    self.copy_path(elf.interpreter.lstrip("/"))
                for name in elf.needed:
                    origin = "/" + str(Path(rel).parent)
                    local = [entry.replace("$ORIGIN", origin).replace("${ORIGIN}", origin) for entry in elf.runpath]
                    if any((self.root / directory.lstrip("/") / name).exists() for directory in local):
                        continue  # a wheel's own bundled library (auditwheel's *.libs)
                    sibling = self.root / Path(rel).parent / name
                    if sibling.parent.name.endswith(".libs") and sibling.exists():
                        continue  # one bundled library needing another: the module's RUNPATH loaded both
                    for package, directory in library_dirs:
                        if (directory / name).exists() or (directory / name).is_symlink():
                            self.copy(package, str((directory / name).relative_to(self.debian.packages[package])))
                            added = True
                            break
                    else:
                        raise SystemExit(f"build-image: {rel} needs {name}, which no fetched package has")
            if not added:
                return

    def merged_usr(self) -> None:
        for name in ("bin", "sbin", "lib"):
            self.symlink(name, f"usr/{name}")
        if (self.root / "usr/lib64").exists():
            self.symlink("lib64", "usr/lib64")

    def accounts(self, users: list[tuple[str, int, str]]) -> None:
        """/etc/passwd and /etc/group: root, the image's user and nobody; no login shell exists."""
        entries = [("root", 0, "/root"), *users, ("nobody", 65534, "/nonexistent")]
        self.write("etc/passwd", "".join(f"{n}:x:{i}:{i}:{n}:{h}:/sbin/nologin\n" for n, i, h in entries))
        self.write("etc/group", "".join(f"{n}:x:{i}:\n" for n, i, _ in entries))
        self.write("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\nservices: files\n"
                                        "protocols: files\n")
        self.mkdir("root", 0o700)
        self.mkdir("tmp", 0o1777)
        self.write("etc/os-release", self.debian.path("base-files", "usr/lib/os-release").read_text())

    def package_records(self) -> None:
        """What scanners read (as distroless does): one control record per package whose files are here."""
        for name in sorted(self.used_packages):
            self.write(f"var/lib/dpkg/status.d/{name}", self.debian.controls[name])


# -- wheels -------------------------------------------------------------------------------------------------------


def manylinux(debian: Debian) -> str:
    major, minor = re.match(r"(\d+)\.(\d+)", debian.versions["libc6"]).groups()
    return f"manylinux_{major}_{minor}_{debian.arch.wheel}"


#: The host's packaging tools, pinned: the wheels built here (the project's and stem's) record their generator, so a
#: newer setuptools would change the image's bytes.
TOOLS = ("pip==26.3", "setuptools==84.2.1")


def tools_python(cache: Path) -> Path:
    """A host virtualenv with a known pip, used for pip wheel/download/install --target (never in the image)."""
    venv = cache / f"tools-venv-{'-'.join(TOOLS)}"
    python = venv / "bin/python"
    if not python.exists():
        run(sys.executable, "-m", "venv", venv)
        run(python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *TOOLS)
    return python


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def build_wheels(
    cache: Path, work: Path, arch: Arch, platform_tag: str, extra: tuple[str, ...] = ()
) -> tuple[Path, list[str], list[str]]:
    """The project's wheel and stem's (pure Python, built on the host), then every dependency as a target wheel.

    The set of distributions is the one constraints.txt pins (resolved by pip on the host, runtime dependencies
    only, plus `extra`: the proof image's test tooling); check_requirements then proves it consistent for the target.
    """
    python = tools_python(cache)
    local = work / "local-wheels"
    local.mkdir()
    source = work / "source"
    source.mkdir()
    for rel in ("pyproject.toml", "README.md", "constraints.txt"):
        shutil.copy2(ROOT / rel, source / rel)
    for rel in ("gen", "libs", "services"):
        shutil.copytree(ROOT / rel, source / rel, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    pip = [python, "-m", "pip", "--disable-pip-version-check", "-q"]
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", local, source)
    stem = cache / f"stem-wheel-{'-'.join(TOOLS)}"
    if not any(stem.glob("stem-*.whl")):
        run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", stem, "-c", ROOT / "constraints.txt", "stem")
    shutil.copy2(next(stem.glob("stem-*.whl")), local)
    project_wheel = next(local.glob("lucid_tron-*.whl"))
    report = work / "resolution.json"
    constraints = work / "constraints.txt"
    repinned = {canonical(re.split(r"[=<>!~ ]", requirement)[0]) for requirement in extra if "==" in requirement}
    constraints.write_text("".join(line for line in (ROOT / "constraints.txt").read_text().splitlines(keepends=True)
                                   if canonical(re.split(r"[=<>!~ ;]", line)[0]) not in repinned))
    run(*pip, "install", "--dry-run", "--ignore-installed", "--report", report, "--find-links", local,
        "-c", constraints, project_wheel, *extra)
    pinned = {canonical(item["metadata"]["name"]): item["metadata"]["version"]
              for item in json.loads(report.read_text())["install"]}
    requirements = [f"{name}=={version}" for name, version in sorted(pinned.items())]
    wheels = cache / f"wheels-cp{PYTHON.replace('.', '')}-{arch.wheel}"
    target_python = ["--python-version", PYTHON, "--implementation", "cp", "--abi", f"cp{PYTHON.replace('.', '')}",
                     "--abi", "abi3", "--abi", "none", "--platform", platform_tag, "--platform",
                     f"manylinux2014_{arch.wheel}", "--only-binary=:all:"]
    run(*pip, "download", "--no-deps", "-d", wheels, "--find-links", local, *target_python, *requirements)
    return wheels, [str(local), *target_python], requirements


def install_venv(
    rootfs: Rootfs, cache: Path, work: Path, arch: Arch, platform_tag: str, extra: tuple[str, ...] = (),
    *, strip: bool = True,
) -> str:
    wheels, options, requirements = build_wheels(cache, work, arch, platform_tag, extra)
    site = rootfs.root / f"opt/venv/lib/python{PYTHON}/site-packages"
    python = tools_python(cache)
    # --target with the target's tags: the host's pip only unpacks wheels; no code from them runs here.
    run(python, "-m", "pip", "--disable-pip-version-check", "-q", "install", "--no-compile", "--no-index",
        "--no-deps", "--target", site, "--find-links", wheels, "--find-links", *options, *requirements)
    # Console scripts were written for the host's interpreter (their shebang names the cache's path): remove them and
    # their RECORD lines, which would otherwise make the image depend on where the cache is.
    shutil.rmtree(site / "bin", ignore_errors=True)
    for record in site.glob("*.dist-info/RECORD"):
        lines = record.read_text().splitlines(keepends=True)
        record.write_text("".join(line for line in lines if not line.startswith("../../bin/")))
    for path in sorted(site.rglob("*"), reverse=True):
        if SITE_EXCLUDED.search(str(path.relative_to(site))):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    if strip:
        strip_debug(site, arch)
    version = rootfs.debian.versions[f"python{PYTHON}-minimal"].split("-")[0]
    rootfs.write("opt/venv/pyvenv.cfg", f"home = /usr/bin\ninclude-system-site-packages = false\n"
                                        f"version = {version}\nexecutable = /usr/bin/python{PYTHON}\n")
    rootfs.symlink("opt/venv/bin/python", "/usr/bin/python3")
    rootfs.symlink("opt/venv/bin/python3", "python")
    rootfs.symlink(f"opt/venv/bin/python{PYTHON}", "python")
    rootfs.symlink("opt/venv/lib64", "lib")
    return next(r for r in requirements if r.startswith("lucid-tron==")).split("==")[1]


def strip_debug(site: Path, arch: Arch) -> None:
    """Drop the debug sections and static symbol tables some wheels ship (15 MB for arm64), as Debian's dh_strip does.

    Dynamic symbols stay: the extension modules load and link exactly as before.
    """
    strip = shutil.which(f"{arch.triplet}-strip")
    if strip is None:
        package = f"binutils-{arch.triplet.replace('_', '-')}"
        raise SystemExit(f"build-image: {arch.triplet}-strip is missing (apt-get install {package})")
    for path in sorted(site.rglob("*.so*")):
        if path.is_file() and not path.is_symlink() and read_elf(path) is not None:
            run(strip, "--strip-unneeded", "--remove-section=.comment", "--remove-section=.note", path)


def check_requirements(site: Path, arch: Arch) -> None:
    """pip check for the TARGET interpreter: every installed distribution's requirements, markers evaluated for it.

    pip evaluates markers for the interpreter it runs on; a constraints file made on another Python can miss a
    dependency the target needs (redis needs async-timeout below 3.11.3). This catches that before the image runs.
    """
    from pip._vendor.packaging.markers import default_environment
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name

    environment = default_environment()
    environment.update(python_version=PYTHON, python_full_version=f"{PYTHON}.0", platform_machine=arch.wheel,
                       implementation_name="cpython", platform_python_implementation="CPython",
                       sys_platform="linux", os_name="posix", platform_system="Linux")
    installed: dict[str, str] = {}
    metadata: dict[str, list[str]] = {}
    for info in site.glob("*.dist-info"):
        lines = (info / "METADATA").read_text(errors="replace").split("\n\n", 1)[0].splitlines()
        name = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("Name:"))
        version = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("Version:"))
        installed[canonicalize_name(name)] = version
        metadata[name] = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:")]
    problems = []
    for name, requirements in sorted(metadata.items()):
        for text in requirements:
            requirement = Requirement(text)
            if requirement.marker and not requirement.marker.evaluate({**environment, "extra": ""}):
                continue
            have = installed.get(canonicalize_name(requirement.name))
            if have is None or not requirement.specifier.contains(have, prereleases=True):
                problems.append(f"{name} requires {requirement} on Python {PYTHON}, installed: {have}")
    if problems:
        raise SystemExit("build-image: " + "\n  ".join(["requirements not met in the image:", *problems]))


# -- byte-code and checks ----------------------------------------------------------------------------------------


def in_image(rootfs: Rootfs, *command: str, env: dict[str, str] | None = None) -> None:
    """Run the image's own interpreter in a chroot of it (an aarch64 one through binfmt_misc and qemu)."""
    clean = {"PATH": "/usr/bin", "LANG": "C.UTF-8", **(env or {})}
    run(shutil.which("chroot") or "/usr/sbin/chroot", rootfs.root, *command, env=clean)


def compiler(cache: Path, refresh: bool) -> list[str]:
    """The image's Debian Python, built for the HOST's architecture, run in place through its own loader.

    Byte-code does not depend on the machine, only on the Python version: the host's own build of Debian's
    python3.13 writes exactly the pyc files the target's would, natively (seconds, not ten minutes under qemu).
    """
    host = next(candidate for candidate in ARCHES.values() if candidate.wheel == os.uname().machine)
    debian = Debian(cache, host)
    debian.fetch([f"python{PYTHON}-minimal", f"libpython{PYTHON}-stdlib"], refresh=refresh)
    rootfs = Rootfs(cache / f"compiler-{host.name}-{debian.versions[f'python{PYTHON}-minimal']}", debian)
    if not (rootfs.root / ".complete").exists():
        shutil.rmtree(rootfs.root, ignore_errors=True)
        rootfs.root.mkdir()
        rootfs.copy(f"python{PYTHON}-minimal", f"usr/bin/python{PYTHON}")
        for package in (f"libpython{PYTHON}-minimal", f"libpython{PYTHON}-stdlib"):
            rootfs.copy_tree(package, f"usr/lib/python{PYTHON}")
        rootfs.add_library_closure()
        (rootfs.root / ".complete").touch()
    interpreter = read_elf(rootfs.root / f"usr/bin/python{PYTHON}").interpreter
    loader = rootfs.root / re.sub(r"^/(lib|lib64)/", r"usr/\1/", interpreter)
    return [str(loader), "--library-path", str(rootfs.root / f"usr/lib/{host.triplet}"),
            str(rootfs.root / f"usr/bin/python{PYTHON}"), "PYTHONHOME=" + str(rootfs.root / "usr")]


def compile_bytecode(rootfs: Rootfs, epoch: int, native: list[str]) -> None:
    # unchecked-hash: the root is read-only and never changes under the pyc, so nothing stats or hashes the source at
    # import; and a hash-based pyc carries no mtime, so it is reproducible.
    # One process: a worker would start from sys.executable, without the loader this interpreter runs under.
    # -W: stem's docstrings hold invalid escapes; the warning is stem's, printed on every build, and harmless.
    arguments = ["-W", "ignore::SyntaxWarning", "-m", "compileall", "-q", "-j", "1",
                 "--invalidation-mode", "unchecked-hash"]
    trees = [f"usr/lib/python{PYTHON}", "opt/venv/lib"]
    *command, home = native
    # -s/-p: the pyc files name /usr/lib/..., where the image has them, not this build directory.
    run(*command, *arguments, "-s", rootfs.root, "-p", "/", *(rootfs.root / tree for tree in trees),
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "SOURCE_DATE_EPOCH": str(epoch), home.split("=")[0]:
             home.split("=", 1)[1]})


def check_image(rootfs: Rootfs, *, shell_allowed: bool) -> list[str]:
    problems = []
    for path in sorted(rootfs.root.rglob("*")):
        rel = str(path.relative_to(rootfs.root))
        name = path.name
        # var/lib/dpkg holds only status.d (package records for scanners): no dpkg program, no database.
        if name in FORBIDDEN_NAMES and rel != "var/lib/dpkg" and not (shell_allowed and name == "bash"):
            problems.append(f"forbidden file: /{rel}")
        if name.endswith(".dist-info"):
            distribution = name.split("-")[0].lower().replace(".", "_")
            if distribution in FORBIDDEN_DISTRIBUTIONS:
                problems.append(f"forbidden package: {name}")
            metadata = (path / "METADATA").read_text(errors="replace").split("\n\n", 1)[0]
            licence = "\n".join(line for line in metadata.splitlines()
                                if line.startswith(("License", "Classifier: License")))
            if re.search(r"(?<![AL])GPL|GNU General Public", licence) and distribution != "lucid_tron":
                problems.append(f"GPL package: {name}")
        if path.is_file() and not path.is_symlink() and path.stat().st_size < 16 << 20:
            if PRIVATE_KEY.search(path.read_bytes()):
                problems.append(f"private key: /{rel}")
    return problems


def size_of(root: Path) -> int:
    return sum(path.lstat().st_size for path in root.rglob("*") if path.is_file() and not path.is_symlink())


# -- OCI ----------------------------------------------------------------------------------------------------------


def layer(rootfs: Rootfs, members: list[Path], epoch: int) -> bytes:
    """A reproducible tar layer: sorted, every mtime SOURCE_DATE_EPOCH, owners from the record, no user names."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in members:
            rel = str(path.relative_to(rootfs.root))
            info = tar.gettarinfo(str(path), arcname=rel)
            info.mtime = epoch
            info.uid, info.gid = rootfs.owners.get(rel, (0, 0))
            info.uname = info.gname = ""
            if info.isfile():
                with path.open("rb") as stream:
                    tar.addfile(info, stream)
            else:
                tar.addfile(info)
    return buffer.getvalue()


def gzipped(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0, filename="") as stream:
        stream.write(data)
    return buffer.getvalue()


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class ImageSpec:
    name: str
    version: str
    arch: Arch
    config: dict
    labels: dict[str, str]
    layer_roots: list[str]  # one layer per top-level prefix, the rest in the first


def write_archive(rootfs: Rootfs, spec: ImageSpec, epoch: int, output: Path) -> str:
    everything = sorted(rootfs.root.rglob("*"))
    groups: list[list[Path]] = [[] for _ in range(len(spec.layer_roots) + 1)]
    for path in everything:
        rel = str(path.relative_to(rootfs.root))
        index = next((i + 1 for i, prefix in enumerate(spec.layer_roots) if rel.startswith(prefix + "/")), 0)
        groups[index].append(path)
    blobs: dict[str, bytes] = {}
    layers, diff_ids = [], []
    for group in groups:
        raw = layer(rootfs, group, epoch)
        compressed = gzipped(raw)
        diff_ids.append(digest(raw))
        blobs[digest(compressed)] = compressed
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(compressed),
                       "size": len(compressed)})
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    config = {
        "created": created,
        "architecture": spec.arch.name,
        "os": "linux",
        **({"variant": "v8"} if spec.arch.name == "arm64" else {}),
        "config": {**spec.config, "Labels": spec.labels},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": created, "created_by": "scripts/build-image"} for _ in diff_ids],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    blobs[digest(config_bytes)] = config_bytes
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config_bytes),
                   "size": len(config_bytes)},
        "layers": layers,
        "annotations": {"org.opencontainers.image.created": created},
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    blobs[digest(manifest_bytes)] = manifest_bytes
    platform = {"architecture": spec.arch.name, "os": "linux", **({"variant": "v8"} if spec.arch.name == "arm64"
                                                                    else {})}
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manifest_bytes),
                       "size": len(manifest_bytes), "platform": platform,
                       "annotations": {"org.opencontainers.image.ref.name": f"{spec.name}:{spec.version}"}}],
    }
    files = {"oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
             "index.json": json.dumps(index, sort_keys=True, separators=(",", ":")).encode()}
    for blob_digest, data in blobs.items():
        files[f"blobs/sha256/{blob_digest.split(':')[1]}"] = data
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for directory in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, epoch
            tar.addfile(info)
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, epoch
            tar.addfile(info, io.BytesIO(files[name]))
    partial.replace(output)
    return digest(manifest_bytes)


# -- the two images -----------------------------------------------------------------------------------------------

SERVICE_PACKAGES = [f"python{PYTHON}-minimal", f"libpython{PYTHON}-minimal", f"libpython{PYTHON}-stdlib",
                    "ca-certificates", "tzdata", "netbase", "media-types", "base-files", "libstdc++6"]
TOR_PACKAGES = ["tor", "bash", "base-files"]


def service_rootfs(rootfs: Rootfs, cache: Path, work: Path, extra: tuple[str, ...] = (), *, strip: bool = True) -> str:
    debian = rootfs.debian
    rootfs.copy(f"python{PYTHON}-minimal", f"usr/bin/python{PYTHON}")
    rootfs.symlink("usr/bin/python3", f"python{PYTHON}")
    for package in (f"libpython{PYTHON}-minimal", f"libpython{PYTHON}-stdlib"):
        rootfs.copy_tree(package, f"usr/lib/python{PYTHON}", STDLIB_EXCLUDED)
        if debian.path(package, f"etc/python{PYTHON}").exists():
            rootfs.copy_tree(package, f"etc/python{PYTHON}")
    # zoneinfo/localtime points at /etc/localtime, written below.
    rootfs.copy_tree("tzdata", "usr/share/zoneinfo", re.compile(r"/localtime$"))
    rootfs.symlink("etc/localtime", "/usr/share/zoneinfo/Etc/UTC")
    rootfs.write("etc/timezone", "Etc/UTC\n")
    for rel in ("etc/services", "etc/protocols"):
        rootfs.copy("netbase", rel)
    rootfs.copy("media-types", "etc/mime.types")
    # What update-ca-certificates would write: Mozilla's roots as one bundle, where OpenSSL (and Debian's certifi
    # patch) look; the .deb ships them as separate files and its maintainer script is not run here.
    roots = sorted(debian.path("ca-certificates", "usr/share/ca-certificates/mozilla").glob("*.crt"))
    rootfs.write("etc/ssl/certs/ca-certificates.crt", "".join(path.read_text() for path in roots))
    rootfs.used_packages.add("ca-certificates")
    for link, target in (("cert.pem", "/etc/ssl/certs/ca-certificates.crt"), ("certs", "/etc/ssl/certs")):
        rootfs.symlink(f"usr/lib/ssl/{link}", target)
    project = install_venv(rootfs, cache, work, debian.arch, manylinux(debian), extra, strip=strip)
    rootfs.add_library_closure()
    rootfs.merged_usr()
    rootfs.accounts([("nonroot", NONROOT, "/home/nonroot")])
    rootfs.mkdir("home/nonroot", 0o700, (NONROOT, NONROOT))
    rootfs.package_records()
    return project


def tor_rootfs(rootfs: Rootfs) -> None:
    rootfs.copy("tor", "usr/bin/tor")
    rootfs.copy("bash", "usr/bin/bash")  # tor-healthcheck: builtins only (read, printf, /dev/tcp)
    rootfs.add_library_closure()
    rootfs.merged_usr()
    rootfs.accounts([("lucid-tor", TOR_UID, "/var/lib/tor")])
    rootfs.write("etc/tor/torrc", (ROOT / "deploy/torrc").read_bytes())
    rootfs.write("usr/local/bin/tor-healthcheck", (ROOT / "deploy/tor-healthcheck").read_bytes(), 0o755)
    rootfs.mkdir("var/lib/tor", 0o700, (TOR_UID, TOR_UID))
    rootfs.package_records()


#: The proof images (`--proof`, for scripts/deploy-proof): what a registry would bring to deploy/compose.yaml, built
#: the same way. TEST ONLY, never deployed: lucid-proof carries devnet and SecantusDB (GPL-2.0-only) in place of
#: TronGrid and mongo:7, lucid-redis Debian's redis-server in place of redis:7.4-alpine.
#: Pins in PROOF_EXTRA replace constraints.txt's: the dev pins of shapely and numpy (SecantusDB's) have no cp313
#: aarch64 wheel on the index this machine reaches, these do.
PROOF_EXTRA = ("secantusdb", "shapely==2.1.2", "numpy==2.2.6")
REDIS_PACKAGES = ["redis-server", "redis-tools", "base-files"]
REDIS_UID = 999  # compose.yaml's redis runs as 999:1000


def redis_rootfs(rootfs: Rootfs) -> None:
    for package, rel in (("redis-tools", "usr/bin/redis-server"), ("redis-tools", "usr/bin/redis-cli")):
        rootfs.copy(package if rootfs.debian.path(package, rel).exists() else "redis-server", rel)
    rootfs.add_library_closure()
    rootfs.merged_usr()
    rootfs.accounts([("redis", REDIS_UID, "/data")])
    rootfs.mkdir("data", 0o1777)
    rootfs.package_records()


def build_proof(debian: Debian, cache: Path, work: Path, output: Path, epoch: int) -> None:
    """lucid-proof and lucid-redis for `debian`'s architecture, beside the service image (see PROOF_EXTRA)."""
    proof = Rootfs(work / "lucid-proof", debian)
    proof.root.mkdir()
    (work / "proof-wheels").mkdir()
    # Unstripped: strip breaks numpy's bundled OpenBLAS ("ELF load command address/offset not page-aligned"), and
    # a test image's size does not matter.
    project = service_rootfs(proof, cache, work / "proof-wheels", PROOF_EXTRA, strip=False)
    compile_bytecode(proof, epoch, compiler(cache, False))
    redis = Rootfs(work / "lucid-redis", debian)
    redis.root.mkdir()
    redis_rootfs(redis)
    warning = "TEST ONLY, never deploy: "
    images = [
        (proof, ImageSpec("lucid-proof", project, debian.arch, {
            "User": f"{NONROOT}:{NONROOT}", "Env": SERVICE_ENV, "WorkingDir": "/tmp",
            "Entrypoint": ["/opt/venv/bin/python", "-m"],
        }, labels("lucid-proof", warning + "devnet (lucid_tron.devnet) and SecantusDB (GPL-2.0-only) for "
                  "scripts/deploy-proof", project, epoch), ["opt/venv"])),
        (redis, ImageSpec("lucid-redis", project, debian.arch, {
            "User": f"{REDIS_UID}:1000", "Env": ["PATH=/usr/bin:/bin"], "WorkingDir": "/data",
            "Entrypoint": ["/usr/bin/redis-server"], "ExposedPorts": {"6379/tcp": {}},
        }, labels("lucid-redis", warning + "Debian's redis-server for scripts/deploy-proof", project, epoch), [])),
    ]
    for rootfs, spec in images:
        archive = output / f"{spec.name}-{spec.version}-{debian.arch.name}.oci.tar"
        manifest = write_archive(rootfs, spec, epoch, archive)
        print(f"{archive}\t{manifest}\tuncompressed {size_of(rootfs.root) / 1e6:.1f} MB\tarchive "
              f"{archive.stat().st_size / 1e6:.1f} MB", flush=True)


def revision() -> str:
    try:
        head = run("git", "-C", ROOT, "rev-parse", "HEAD", capture_output=True, text=True).stdout.strip()
        dirty = run("git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", capture_output=True,
                    text=True).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def source_date_epoch() -> int:
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    try:
        return int(run("git", "-C", ROOT, "log", "-1", "--format=%ct", capture_output=True, text=True).stdout)
    except (subprocess.CalledProcessError, ValueError, FileNotFoundError):
        return 0


def labels(title: str, description: str, version: str, epoch: int) -> dict[str, str]:
    return {
        "org.opencontainers.image.title": title,
        "org.opencontainers.image.description": description,
        "org.opencontainers.image.licenses": LICENSE,
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.revision": revision(),
        "org.opencontainers.image.created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)),
        "org.opencontainers.image.base.name": BASE_NAME,
        "org.opencontainers.image.vendor": VENDOR,
    }


def require_emulation(arch: Arch) -> None:
    """An aarch64 chroot on an x86 host needs binfmt_misc + qemu: fail loudly, naming the fix, if it is missing."""
    machine = os.uname().machine
    if machine == arch.wheel:
        return
    entry = Path(f"/proc/sys/fs/binfmt_misc/qemu-{arch.wheel}")
    if not entry.exists() or "enabled" not in entry.read_text():
        raise SystemExit(
            f"build-image: a {arch.name} image on {machine} needs binfmt_misc with qemu-{arch.wheel}:\n"
            "  apt-get install -y qemu-user-static binfmt-support\n"
            "  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc\n"
            f"  update-binfmts --enable qemu-{arch.wheel}"
        )


def build(arch: Arch, output: Path, cache: Path, *, refresh: bool, max_mb: int, proof: bool = False) -> None:
    epoch = source_date_epoch()
    require_emulation(arch)
    debian = Debian(cache, arch)
    started = time.monotonic()
    debian.fetch(SERVICE_PACKAGES + TOR_PACKAGES + (REDIS_PACKAGES if proof else []), refresh=refresh)
    log(f"Debian {SUITE} {arch.name}: {len(debian.packages)} packages ({time.monotonic() - started:.0f} s)")
    with tempfile.TemporaryDirectory(prefix="lucid-image-", dir=cache) as scratch:
        work = Path(scratch)
        service = Rootfs(work / "lucid-tron", debian)
        service.root.mkdir()
        project = service_rootfs(service, cache, work)
        check_requirements(service.root / f"opt/venv/lib/python{PYTHON}/site-packages", arch)
        started = time.monotonic()
        compile_bytecode(service, epoch, compiler(cache, refresh))
        log(f"byte-code compiled in the image's Python ({time.monotonic() - started:.0f} s)")
        started = time.monotonic()
        in_image(service, "/opt/venv/bin/python", "-I", "-c",
                 "import importlib, pkgutil, lucid_tron.services as s\n"
                 "for m in pkgutil.iter_modules(s.__path__):\n"
                 "    importlib.import_module(f'lucid_tron.services.{m.name}.__main__')\n"
                 "import lucid_tron.healthcheck, grpc_health.v1.health_pb2, ssl, zoneinfo\n"
                 "zoneinfo.ZoneInfo('Europe/Berlin'); ssl.create_default_context().get_ca_certs()\n")
        log(f"every service module imports in the image ({time.monotonic() - started:.0f} s)")
        tor = Rootfs(work / "lucid-tor", debian)
        tor.root.mkdir()
        tor_rootfs(tor)
        failed = False
        for rootfs, name, shell in ((service, "lucid-tron", False), (tor, "lucid-tor", True)):
            problems = check_image(rootfs, shell_allowed=shell)
            for problem in problems:
                log(f"{name}: {problem}")
            failed |= bool(problems)
        if failed:
            raise SystemExit("build-image: the image checks failed")
        images = [
            (service, ImageSpec("lucid-tron", project, arch, {
                "User": f"{NONROOT}:{NONROOT}", "Env": SERVICE_ENV, "WorkingDir": "/",
                "Entrypoint": ["/opt/venv/bin/python", "-m"], "ExposedPorts": {f"{p}/tcp": {} for p in SERVICE_PORTS},
            }, labels("lucid-tron", "Lucid's TRON payment plane: seven gRPC services, TronGrid only via Tor. "
                      "Argument: the service module.", project, epoch), ["opt/venv"])),
            (tor, ImageSpec("lucid-tor", project, arch, {
                "User": f"{TOR_UID}:{TOR_UID}", "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "WorkingDir": "/",
                "Entrypoint": ["/usr/bin/tor", "-f", "/etc/tor/torrc"],
                "ExposedPorts": {"9050/tcp": {}, "9051/tcp": {}}, "Volumes": {"/var/lib/tor": {}},
            }, labels("lucid-tor", "Tor client (SOCKS + control port, no relay, no exit) for lucid-tron", project,
                      epoch), [])),
        ]
        for rootfs, spec in images:
            archive = output / f"{spec.name}-{spec.version}-{arch.name}.oci.tar"
            manifest = write_archive(rootfs, spec, epoch, archive)
            size = size_of(rootfs.root)
            print(f"{archive}\t{manifest}\tuncompressed {size / 1e6:.1f} MB\tarchive "
                  f"{archive.stat().st_size / 1e6:.1f} MB", flush=True)
            if spec.name == "lucid-tron" and size > max_mb * 1e6:
                raise SystemExit(f"build-image: lucid-tron is {size / 1e6:.1f} MB uncompressed, over {max_mb} MB")
        if proof:
            build_proof(debian, cache, work, output, epoch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/build-image", description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=sorted(ARCHES), default="arm64")
    parser.add_argument("--output", type=Path, default=ROOT / "dist/images")
    parser.add_argument("--cache", type=Path,
                        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lucid-tron-image")
    parser.add_argument("--no-refresh", dest="refresh", action="store_false",
                        help="reuse the cached Debian package lists instead of `apt-get update`")
    parser.add_argument("--max-mb", type=int, default=120, help="fail above this uncompressed size (MB)")
    parser.add_argument("--proof", action="store_true",
                        help="also the TEST-ONLY images scripts/deploy-proof runs in place of registry images: "
                             "lucid-proof (devnet, SecantusDB) and lucid-redis")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("build-image: run as root (the byte-code step chroots into the image)")
    args.cache.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    build(ARCHES[args.arch], args.output.resolve(), args.cache.resolve(), refresh=args.refresh, max_mb=args.max_mb,
          proof=args.proof)
    log(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
