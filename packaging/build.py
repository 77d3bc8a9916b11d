"""Builds SPADE Studio's one-folder app, then the platform's packages.

    python packaging/build.py                 # folder + (Linux) .deb and .tar.gz
    python packaging/build.py --skip-folder   # packages from an existing dist/spade-studio
    python packaging/build.py --folder-only   # what CI does

Linux:   dist/spade-studio/, dist/spade-studio_<ver>_<arch>.deb, dist/spade-studio-<ver>-linux-<arch>.tar.gz
Windows: dist/spade-studio/ and, where Inno Setup's ISCC.exe is found, dist/SPADE-Studio-<ver>-setup.exe
macOS:   dist/SPADE Studio.app and dist/SPADE-Studio-<ver>.dmg (hdiutil)

It uses whatever torch is installed in the running interpreter: CPU torch by default; install a
CUDA build of torch first for the CUDA variant (``--variant cuda`` only checks and names it).
Nothing is downloaded. See packaging/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import bundle_rules  # noqa: E402

APP = "spade-studio"
INSTALL_DIR = "/opt/spade-studio"
DESKTOP_ID = "spade-studio"
MAINTAINER = "SPADE Studio developers <maintainers@spade-studio.invalid>"
SUMMARY = "Paint a scene as a label map; a SPADE generator turns it into a photo-like image"
DESCRIPTION = (
    "SPADE Studio is a desktop editor for semantic image synthesis: paint sky, mountains, water\n"
    "and trees as flat label colours and a SPADE generator renders a photo-like image on your own\n"
    "machine, offline. It ships a small landscape model, style presets and samples, a trainer for\n"
    "your own data sets and the spade-studio-cli command-line tool."
)

# Debian packages for the libraries that Qt's desktop plugins load from the system and that this
# build machine may not have (ldd reports them "not found"); the rest are found with dpkg -S.
KNOWN_SYSTEM_LIBS = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb.so.1": "libxcb1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-util.so.1": "libxcb-util1",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libgomp.so.1": "libgomp1",
}
# Libraries of the platform plugins that only matter on a desktop session; a headless install
# (CI, the debootstrap test) runs the offscreen platform without them, so they are Recommends.
DESKTOP_ONLY_PACKAGES = {"libxcb-cursor0", "libxcb-icccm4", "libxcb-image0", "libxcb-keysyms1",
                         "libxcb-render-util0", "libxcb-xkb1", "libxkbcommon-x11-0", "libwayland-client0",
                         "libwayland-cursor0", "libwayland-egl1", "libxcb-randr0", "libxcb-shape0",
                         "libxcb-sync1", "libxcb-xfixes0", "libxcb-render0", "libxcb-glx0", "libxcb-xinput0",
                         "libxcb-util1", "libsm6", "libice6", "libx11-xcb1", "libxcb-shm0"}
DESKTOP_ONLY_PLUGIN_DIRS = ("platforms/libqxcb", "platforms/libqwayland", "xcbglintegrations", "wayland-",
                            "platforminputcontexts", "libQt6XcbQpa", "libQt6WaylandClient", "libQt6Wl",
                            "platformthemes")


def version() -> str:
    text = (ROOT / "spade_studio" / "__init__.py").read_text()
    return re.search(r'__version__\s*=\s*"([^"]+)"', text).group(1)


def deb_arch() -> str:
    m = platform.machine().lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(m, m)


def log(msg: str) -> None:
    print(f"[build] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# the folder
# ---------------------------------------------------------------------------------------------
def build_folder(dist: Path, work: Path, icons: Path) -> Path:
    env = dict(os.environ, SPADE_STUDIO_ICON_DIR=str(icons))
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--distpath", str(dist), "--workpath", str(work / "pyinstaller"), str(HERE / "spade_studio.spec")]
    log(" ".join(cmd))
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    return dist / APP


def strip_candidates(folder: Path) -> list[Path]:
    """The ELF files ``bundle_rules.STRIP_GLOBS`` select, less ``NO_STRIP_GLOBS``."""
    skip = {f for pattern in bundle_rules.NO_STRIP_GLOBS for f in folder.glob(pattern)}
    files = {f for pattern in bundle_rules.STRIP_GLOBS for f in folder.glob(pattern)
             if f.is_file() and not f.is_symlink() and f not in skip}
    return sorted(f for f in files if _is_elf(f))


def strip_libraries(folder: Path) -> int:
    """``strip --strip-unneeded`` on the large unstripped libraries (Linux); bytes saved."""
    if not sys.platform.startswith("linux") or not shutil.which("strip"):
        return 0
    saved = 0
    for f in strip_candidates(folder):
        before = f.stat().st_size
        subprocess.run(["strip", "--strip-unneeded", str(f)], check=True)
        saved += before - f.stat().st_size
    return saved


def _is_elf(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"\x7fELF"


def _needed(path: Path) -> list[str]:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out)


def drop_unreferenced_libraries(folder: Path) -> list[tuple[str, int]]:
    """Linux: delete the shared libraries at the top of ``_internal`` that nothing in the folder
    loads (``bundle_rules.unreferenced`` over readelf's NEEDED entries; the roots are the
    executables and every ELF file inside a package folder). ``(name, bytes)`` of each."""
    internal = folder / "_internal"
    if not sys.platform.startswith("linux") or not shutil.which("readelf") or not internal.is_dir():
        return []
    elfs = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and _is_elf(p)]
    top = [p for p in elfs if p.parent == internal and not p.name.startswith("libpython")]
    roots = [p for p in elfs if p not in top]
    names = {str(p): p for p in elfs}
    drop = bundle_rules.unreferenced([str(p) for p in top], [str(p) for p in roots], lambda f: _needed(names[f]))
    out = []
    for f in drop:
        p = names[f]
        out.append((p.name, p.stat().st_size))
        p.unlink()
    for link in internal.iterdir():  # symlinks left pointing at a dropped library
        if link.is_symlink() and not link.exists():
            link.unlink()
    return out


def normalise_modes(folder: Path) -> None:
    """0755 for folders and executables (ELF or +x), 0644 for the rest (the model file is 0600 in git)."""
    for p in [folder, *folder.rglob("*")]:
        if p.is_symlink():
            continue
        if p.is_dir():
            p.chmod(0o755)
        else:
            mode = p.stat().st_mode
            execish = bool(mode & stat.S_IXUSR) or p.suffix == ".so" or ".so." in p.name
            p.chmod(0o755 if execish else 0o644)


def check_variant(folder: Path, variant: str) -> None:
    cuda_libs = [p.name for p in folder.rglob("libtorch_cuda*")] + [p.name for p in folder.rglob("libcudart*")]
    if variant == "cpu" and cuda_libs:
        raise SystemExit(f"the installed torch is a CUDA build ({cuda_libs[:3]}); install CPU torch or pass --variant cuda")
    if variant == "cuda" and not cuda_libs:
        raise SystemExit("--variant cuda, but the installed torch has no CUDA libraries")


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def largest_parts(folder: Path, n: int = 15) -> list[tuple[int, str]]:
    """The n largest files of the folder (size, path relative to it)."""
    files = [(p.stat().st_size, str(p.relative_to(folder))) for p in folder.rglob("*")
             if p.is_file() and not p.is_symlink()]
    return sorted(files, reverse=True)[:n]


# ---------------------------------------------------------------------------------------------
# Linux: .desktop, AppStream, .deb, .tar.gz
# ---------------------------------------------------------------------------------------------
def desktop_entry() -> str:
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=SPADE Studio\n"
        "GenericName=Semantic Image Synthesis\n"
        f"Comment={SUMMARY}\n"
        "Exec=spade-studio %f\n"
        "TryExec=spade-studio\n"
        "Icon=spade-studio\n"
        "Terminal=false\n"
        "Categories=Graphics;2DGraphics;RasterGraphics;\n"
        "Keywords=SPADE;GAN;label map;landscape;painting;\n"
        "MimeType=image/png;\n"
        "StartupNotify=true\n"
        "StartupWMClass=spade-studio\n"
    )


def appstream_metainfo(ver: str) -> str:
    paras = "".join(f"      <p>{p}</p>\n" for p in DESCRIPTION.replace("\n", " ").split("  "))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<component type="desktop-application">\n'
        f"  <id>{DESKTOP_ID}</id>\n"
        "  <metadata_license>CC0-1.0</metadata_license>\n"
        "  <project_license>MIT</project_license>\n"
        "  <name>SPADE Studio</name>\n"
        f"  <summary>Paint label maps, get photo-like images, offline</summary>\n"
        "  <description>\n"
        f"{paras}"
        "  </description>\n"
        f'  <launchable type="desktop-id">{DESKTOP_ID}.desktop</launchable>\n'
        "  <developer id=\"spade-studio\"><name>SPADE Studio developers</name></developer>\n"
        "  <provides>\n"
        "    <binary>spade-studio</binary>\n"
        "    <binary>spade-studio-cli</binary>\n"
        "  </provides>\n"
        "  <categories><category>Graphics</category></categories>\n"
        '  <content_rating type="oars-1.1"/>\n'
        "  <releases>\n"
        f'    <release version="{ver}" date="{time.strftime("%Y-%m-%d")}"/>\n'
        "  </releases>\n"
        "</component>\n"
    )


def _ldd(path: Path) -> list[tuple[str, str | None]]:
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True).stdout
    deps = []
    for line in out.splitlines():
        line = line.strip()
        if "=>" in line:
            name, rest = (s.strip() for s in line.split("=>", 1))
            target = None if rest.startswith("not found") else rest.split(" (")[0].strip()
            deps.append((name, target))
    return deps


def _dpkg_owner(path: str) -> str | None:
    for cand in {path, str(Path(path).resolve()), path.replace("/lib/", "/usr/lib/", 1)}:
        r = subprocess.run(["dpkg", "-S", cand], capture_output=True, text=True)
        if r.returncode == 0 and ":" in r.stdout:
            return r.stdout.split(":", 1)[0].strip()
    return None


def system_dependencies(folder: Path) -> tuple[set[str], set[str], list[str]]:
    """(depends, recommends, unknown): Debian packages for the shared libraries that the folder's
    ELF files load from the system (found with ldd, mapped with dpkg -S or KNOWN_SYSTEM_LIBS)."""
    bundled = {p.name for p in folder.rglob("*.so*")}
    depends, recommends, unknown = set(), set(), []
    for f in folder.rglob("*"):
        if not f.is_file() or f.is_symlink():
            continue
        with open(f, "rb") as fh:
            if fh.read(4) != b"\x7fELF":
                continue
        desktop_only = any(k in str(f) for k in DESKTOP_ONLY_PLUGIN_DIRS)
        for name, target in _ldd(f):
            if name in bundled or (target and str(folder) in target):
                continue
            pkg = KNOWN_SYSTEM_LIBS.get(name) or (_dpkg_owner(target) if target else None)
            if pkg is None:
                unknown.append(f"{name} (needed by {f.relative_to(folder)})")
                continue
            pkg = pkg.split(":")[0]
            if desktop_only or pkg in DESKTOP_ONLY_PACKAGES:
                recommends.add(pkg)
            else:
                depends.add(pkg)
    recommends -= depends
    return depends, recommends, sorted(set(unknown))


def glibc_version() -> str:
    return platform.libc_ver()[1] or "2.31"


def deb_control(ver: str, arch: str, installed_kb: int, depends: set[str], recommends: set[str]) -> str:
    deps = sorted(depends | {"libc6"})
    deps = [f"libc6 (>= {glibc_version()})" if d == "libc6" else d for d in deps]
    lines = [
        f"Package: {APP}",
        f"Version: {ver}",
        f"Architecture: {arch}",
        f"Maintainer: {MAINTAINER}",
        f"Installed-Size: {installed_kb}",
        f"Depends: {', '.join(deps)}",
    ]
    if recommends:
        lines.append(f"Recommends: {', '.join(sorted(recommends))}")
    lines += [
        "Section: graphics",
        "Priority: optional",
        f"Description: {SUMMARY}",
    ]
    lines += [" " + (ln if ln.strip() else ".") for ln in DESCRIPTION.splitlines()]
    return "\n".join(lines) + "\n"


def stage_deb(folder: Path, stage: Path, icons: Path, ver: str, arch: str) -> Path:
    if stage.exists():
        shutil.rmtree(stage)
    opt = stage / INSTALL_DIR.lstrip("/")
    shutil.copytree(folder, opt, symlinks=True)
    usr = stage / "usr"
    (usr / "bin").mkdir(parents=True)
    for exe in ("spade-studio", "spade-studio-cli"):
        os.symlink(f"{INSTALL_DIR}/{exe}", usr / "bin" / exe)
    apps = usr / "share" / "applications"
    apps.mkdir(parents=True)
    (apps / f"{DESKTOP_ID}.desktop").write_text(desktop_entry())
    meta = usr / "share" / "metainfo"
    meta.mkdir(parents=True)
    (meta / f"{DESKTOP_ID}.metainfo.xml").write_text(appstream_metainfo(ver))
    for src in sorted((icons / "hicolor").glob("*/apps/spade-studio.png")):
        dst = usr / "share" / "icons" / "hicolor" / src.relative_to(icons / "hicolor")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    doc = usr / "share" / "doc" / APP
    doc.mkdir(parents=True)
    lic = (ROOT / "LICENSE").read_text() if (ROOT / "LICENSE").exists() else "MIT\n"
    (doc / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Upstream-Name: spade-studio\n\nFiles: *\nCopyright: SPADE Studio developers\nLicense: MIT\n"
        + "".join(" " + (ln if ln.strip() else ".") + "\n" for ln in lic.splitlines())
        + "\nThe bundled Python runtime, torch, Qt (PySide6, LGPL-3.0), NumPy and Pillow keep their\n"
        "own licences; their licence files are inside /opt/spade-studio/_internal.\n"
    )
    normalise_modes(stage)
    depends, recommends, unknown = system_dependencies(opt)
    for u in unknown:
        log(f"warning: no Debian package known for {u}")
    installed_kb = (folder_size(stage) + 1023) // 1024
    (stage / "DEBIAN").mkdir()
    (stage / "DEBIAN" / "control").write_text(deb_control(ver, arch, installed_kb, depends, recommends))
    (stage / "DEBIAN").chmod(0o755)
    return stage


def build_deb(stage: Path, out: Path) -> Path:
    # xz -9: 64 MiB dictionary (vs 8 at -6), a few MB smaller; memory ~700 MB per thread
    cmd = ["dpkg-deb", "--root-owner-group", "-Zxz", "-z9", "--build", str(stage), str(out)]
    log(" ".join(cmd))
    env = dict(os.environ, DPKG_DEB_THREADS_MAX=str(os.cpu_count() or 1))
    subprocess.run(cmd, check=True, env=env)
    return out


def build_tar(folder: Path, out: Path, icons: Path, ver: str) -> Path:
    top = f"{APP}-{ver}"

    def owner_root(ti: tarfile.TarInfo) -> tarfile.TarInfo:
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        return ti

    with tarfile.open(out, "w:gz", compresslevel=9) as tar:
        tar.add(folder, arcname=top, filter=owner_root)
        extra = out.parent / "_tar_extra"
        if extra.exists():
            shutil.rmtree(extra)
        extra.mkdir()
        (extra / f"{DESKTOP_ID}.desktop").write_text(desktop_entry())
        (extra / "INSTALL.txt").write_text(
            f"SPADE Studio {ver}: unpack anywhere and run ./spade-studio (editor) or ./spade-studio-cli.\n"
            f"Menu entry: copy spade-studio.desktop to ~/.local/share/applications/, put the full path of\n"
            f"spade-studio on its Exec= line, and copy spade-studio.png to ~/.local/share/icons/.\n"
            "Nothing is downloaded at run time; settings go to ~/.config/spade-studio, data to\n"
            "~/.local/share/spade-studio.\n")
        shutil.copy2(icons / "spade-studio.png", extra / "spade-studio.png")
        for f in sorted(extra.iterdir()):
            tar.add(f, arcname=f"{top}/{f.name}", filter=owner_root)
        shutil.rmtree(extra)
    return out


# ---------------------------------------------------------------------------------------------
# Windows and macOS (not built on the project's machines; see packaging/README.md)
# ---------------------------------------------------------------------------------------------
def build_inno(dist: Path, ver: str) -> Path | None:
    iscc = shutil.which("iscc") or shutil.which("ISCC") or next(
        (p for p in (Path(os.environ.get("ProgramFiles(x86)", "C:/Program Files (x86)")) / "Inno Setup 6/ISCC.exe",)
         if p.exists()), None)
    if not iscc:
        log("Inno Setup (ISCC.exe) not found: the folder is built; install Inno Setup 6 for the installer")
        return None
    cmd = [str(iscc), f"/DAppVersion={ver}", f"/DSourceDir={dist / APP}", f"/DOutputDir={dist}",
           str(HERE / "windows" / "spade-studio.iss")]
    log(" ".join(cmd))
    subprocess.run(cmd, check=True)
    return dist / f"SPADE-Studio-{ver}-setup.exe"


def build_dmg(dist: Path, ver: str) -> Path:
    app = dist / "SPADE Studio.app"
    if not app.is_dir():
        raise SystemExit(f"{app} missing: the spec builds it on macOS")
    staging = dist / "dmg"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    subprocess.run(["ditto", str(app), str(staging / app.name)], check=True)
    os.symlink("/Applications", staging / "Applications")
    out = dist / f"SPADE-Studio-{ver}.dmg"
    cmd = ["hdiutil", "create", "-volname", f"SPADE Studio {ver}", "-srcfolder", str(staging), "-ov",
           "-format", "UDZO", str(out)]
    log(" ".join(cmd))
    subprocess.run(cmd, check=True)
    shutil.rmtree(staging)
    return out


# ---------------------------------------------------------------------------------------------
def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dist", default=str(ROOT / "dist"))
    p.add_argument("--work", default=str(ROOT / "build"))
    p.add_argument("--variant", choices=["cpu", "cuda"], default="cpu",
                   help="which torch the installed interpreter has (checked; names the packages)")
    p.add_argument("--skip-folder", action="store_true", help="reuse dist/spade-studio")
    p.add_argument("--folder-only", action="store_true", help="no .deb / .tar.gz / installer")
    p.add_argument("--no-deb", action="store_true")
    p.add_argument("--no-tar", action="store_true")
    a = p.parse_args(argv)
    dist, work = Path(a.dist), Path(a.work)
    ver = version()
    suffix = "" if a.variant == "cpu" else "-cuda"

    sys.path.insert(0, str(HERE))
    import make_icons

    icons = work / "icons"
    make_icons.write_all(icons)

    t0 = time.time()
    folder = dist / APP
    if not a.skip_folder:
        folder = build_folder(dist, work, icons)
        saved = strip_libraries(folder)
        if saved:
            log(f"stripped symbol tables: {mb(saved)} saved")
        unused = drop_unreferenced_libraries(folder)
        if unused:
            log(f"dropped {len(unused)} libraries nothing loads ({mb(sum(n for _, n in unused))}): "
                + " ".join(name for name, _ in unused))
        normalise_modes(folder)
        log(f"folder built in {time.time() - t0:.0f} s")
    if not folder.is_dir():
        raise SystemExit(f"{folder} missing (build it first)")
    check_variant(folder, a.variant)
    log(f"{folder}: {mb(folder_size(folder))}")
    for size, rel in largest_parts(folder, 5):
        log(f"  {mb(size):>10}  {rel}")
    if a.folder_only:
        return 0

    if sys.platform.startswith("linux"):
        arch = deb_arch()
        if not a.no_tar:
            t = time.time()
            tgz = build_tar(folder, dist / f"{APP}{suffix}-{ver}-linux-{platform.machine()}.tar.gz", icons, ver)
            log(f"{tgz}: {mb(tgz.stat().st_size)} ({time.time() - t:.0f} s)")
        if not a.no_deb:
            if not shutil.which("dpkg-deb"):
                log("dpkg-deb not found: no .deb (Debian/Ubuntu: apt-get install dpkg-dev)")
            else:
                t = time.time()
                stage = stage_deb(folder, work / "deb-root", icons, ver, arch)
                deb = build_deb(stage, dist / f"{APP}{suffix}_{ver}_{arch}.deb")
                shutil.rmtree(stage)
                log(f"{deb}: {mb(deb.stat().st_size)} ({time.time() - t:.0f} s)")
    elif sys.platform == "win32":
        build_inno(dist, ver)
    elif sys.platform == "darwin":
        build_dmg(dist, ver)
    log(f"done in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
