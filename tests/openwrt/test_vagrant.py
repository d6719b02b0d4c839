"""The Vagrantfile and its provisioning scripts (vagrant/), as far as they run here: no box boots and no
SDK builds on this machine (docs/vagrant.md says what does).

Debian's `vagrant validate` checks the Vagrantfile with vagrant-libvirt (the libvirt provider's settings
too) and without it, offline: in a network namespace with no way out, with a HOME of its own. Every
script is linted for the shell it runs under (OpenWrt's busybox ash, or Debian's bash). The parts of
the sdk machine's scripts that need no SDK run for real: the release's files found and checked through
a local mirror, the feed of links the SDK reads, and the router's box made from an image shaped like
OpenWrt's (two partitions, ext4 root, padded gzip)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import json
import os
import re
import subprocess
import threading
from pathlib import Path

import pytest

from tests.openwrt.repo import ROOT
from tests.openwrt.test_shell_style import tool

VAGRANT = ROOT / "vagrant"
# Each provisioning script and the shell that runs it: busybox's ash on OpenWrt, bash on Debian.
SCRIPTS = {
    "lab.sh": "bash",
    "sdk.sh": "bash",
    "sdk-build.sh": "bash",
    "box.sh": "bash",
    "release.sh": "bash",
    "box-uci-defaults.sh": "busybox",
    "router.sh": "busybox",
    "router-smoke.sh": "busybox",
}


# -- vagrant validate ----------------------------------------------------------------------------------


def validate(tmp_path: Path, *args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    """`vagrant validate` on the Vagrantfile in cwd (the repository's), offline: in a new network
    namespace (only a loopback that is down), its state and HOME in tmp_path, Vagrant's version check
    off."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    environment = {
        "PATH": os.environ["PATH"], "LANG": "C.UTF-8", "HOME": str(home),
        "VAGRANT_HOME": str(home / ".vagrant.d"), "VAGRANT_DOTFILE_PATH": str(tmp_path / "dot-vagrant"),
        "VAGRANT_CHECKPOINT_DISABLE": "1", **env,
    }
    unshare = ["unshare", "--net"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    return subprocess.run([*unshare, tool("vagrant"), "validate", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("release", [None, "25.12.5"], ids=["24.10 (default)", "25.12"])
def test_vagrant_validates_the_three_machines_with_vagrant_libvirt(tmp_path, release):
    done = validate(tmp_path, **({"OPENWRT_RELEASE": release} if release else {}))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Vagrantfile validated successfully" in done.stdout
    assert (tmp_path / "dot-vagrant").is_dir(), "Vagrant's state goes to tmp_path, not the repository"


def test_vagrant_libvirt_is_there_and_checks_the_libvirt_settings(tmp_path):
    """The same Vagrantfile with a misspelt libvirt setting: the plugin refuses it."""
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "vagrant").symlink_to(VAGRANT)
    text = (ROOT / "Vagrantfile").read_text()
    assert text.count("lv.memory = 512") == 1
    (copy / "Vagrantfile").write_text(text.replace("lv.memory = 512", "lv.memroy = 512"))
    done = validate(tmp_path, cwd=copy)
    assert done.returncode != 0
    assert "The following settings shouldn't exist: memroy" in done.stderr


def test_vagrant_validates_it_without_the_libvirt_plugin(tmp_path):
    """Without vagrant-libvirt (VAGRANT_NO_PLUGINS) and with no provider installed, Vagrant can still
    check everything but the providers' settings."""
    done = validate(tmp_path, "--ignore-provider", VAGRANT_NO_PLUGINS="1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line for line in done.stdout.splitlines() if "Ignoring provider config" in line] == [
        "==> lab: Ignoring provider config for validation...",
        "==> sdk: Ignoring provider config for validation...",
        "==> router: Ignoring provider config for validation...",
    ]


def test_a_release_that_is_no_release_is_refused_in_one_line(tmp_path):
    done = validate(tmp_path, OPENWRT_RELEASE="25.12; rm -rf /")
    assert done.returncode != 0
    assert done.stderr.strip() == ('Vagrantfile: OPENWRT_RELEASE must be an OpenWrt release such as 24.10.8 '
                                   'or 25.12.5, not "25.12; rm -rf /"')


# -- the scripts' style --------------------------------------------------------------------------------


def test_every_provisioning_script_is_checked_and_named_in_the_vagrantfile():
    assert sorted(p.name for p in VAGRANT.iterdir()) == sorted(SCRIPTS)
    named = set(re.findall(r'path: "vagrant/([^"]+)"', (ROOT / "Vagrantfile").read_text()))
    assert named == {"lab.sh", "sdk.sh", "sdk-build.sh", "box.sh", "router.sh", "router-smoke.sh"}
    for name, shell in SCRIPTS.items():
        first = (VAGRANT / name).read_text().splitlines()[0]
        assert first in ({"#!/bin/sh"} if shell == "busybox" else {"#!/bin/bash", "# shellcheck shell=bash"})


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_shellcheck_finds_nothing(script):
    done = subprocess.run([tool("shellcheck"), "-x", "-s", SCRIPTS[script], f"vagrant/{script}"], cwd=ROOT,
                          capture_output=True, text=True)
    assert "Unknown shell" not in done.stderr, "this shellcheck is too old for -s busybox"
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_shfmt_finds_nothing_to_change(script):
    done = subprocess.run([tool("shfmt"), "-sr", "-s", "-d", f"vagrant/{script}"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_its_shell_parses_it(script):
    shell = [tool("busybox"), "sh"] if SCRIPTS[script] == "busybox" else ["bash"]
    done = subprocess.run([*shell, "-n", f"vagrant/{script}"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# -- the sdk machine's scripts, where they need no SDK -------------------------------------------------


def bash(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8", **env})


def package_makefiles(feed: Path) -> dict[str, Path]:
    """What OpenWrt's scan of a feed finds (it follows links): every Makefile up to five levels down
    that calls BuildPackage, by its directory relative to the feed, with the file it really is."""
    found = {}
    for top, _, files in os.walk(feed, followlinks=True):
        makefile = Path(top) / "Makefile"
        rel = makefile.relative_to(feed)
        if "Makefile" in files and len(rel.parts) <= 5 and re.search(r"call (BuildPackage|KernelPackage)",
                                                                     makefile.read_text()):
            found[rel.parent.as_posix()] = makefile.resolve()
    return found


def make_feed(repo: Path, home: Path) -> Path:
    done = bash('. vagrant/sdk-build.sh && make_feed && echo "$feed"', REPO=str(repo), HOME=str(home),
                OPENWRT_RELEASE="24.10.8")
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.splitlines()[-1])


def test_the_feed_holds_each_package_of_the_repository_once_in_a_directory_of_its_own(tmp_path):
    feed = make_feed(ROOT, tmp_path)
    found = package_makefiles(feed)
    assert found["hotspot"] == (ROOT / "openwrt" / "Makefile").resolve()
    assert "." not in found and len(set(found.values())) == len(found), found
    expected = {p.resolve() for p in (ROOT / "openwrt").rglob("Makefile")
                if len(p.relative_to(ROOT / "openwrt").parts) <= 3 and "call BuildPackage" in p.read_text()}
    assert set(found.values()) == expected


def test_the_feed_links_packages_in_subdirectories_whole_and_the_top_one_without_them(tmp_path):
    """The layout other packages are joining: openwrt/Makefile beside openwrt/NAME/Makefile."""
    repo = tmp_path / "repo"
    package = "include $(TOPDIR)/rules.mk\nPKG_NAME:={0}\n$(eval $(call BuildPackage,{0}))\n"
    for rel, text in {"openwrt/Makefile": package.format("hotspot"),
                      "openwrt/files/hotspot.init": "#!/bin/sh\n",
                      "openwrt/luci-app-hotspot/Makefile": package.format("luci-app-hotspot"),
                      "openwrt/luci-app-hotspot/htdocs/x.js": "",
                      "openwrt/feed/minimake.py": "BuildPackage\n",
                      "openwrt/python3-nftables/Makefile": package.format("python3-nftables"),
                      "openwrt/host/CMakeLists.txt": ""}.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    feed = make_feed(repo, tmp_path / "home")
    assert sorted(package_makefiles(feed)) == ["hotspot", "luci-app-hotspot", "python3-nftables"]
    assert sorted(p.name for p in (feed / "hotspot").iterdir()) == ["Makefile", "feed", "files", "host"]
    assert (feed / "luci-app-hotspot").resolve() == repo / "openwrt" / "luci-app-hotspot"
    assert (feed / "hotspot" / "files" / "hotspot.init").is_file()


@pytest.mark.parametrize(("release", "built", "key"), [
    ("24.10.8", ["hotspot_0.1.0-r1_all.ipk", "hotspot-portal_0.1.0-r1_all.ipk",
                 "hotspot-src_0.1.0-r1_all.ipk", "luci-i18n-hotspot-zh-cn_25.001.1~abc_all.ipk", "Packages",
                 "Packages.gz", "Packages.sig"], "key-build.pub"),
    ("25.12.5", ["hotspot-0.1.0-r1.apk", "hotspot-portal-0.1.0-r1.apk", "hotspot-src-0.1.0-r1.apk",
                 "luci-i18n-hotspot-zh-cn-25.001.1~abc.apk", "packages.adb"], "public-key.pem"),
])
def test_publish_names_every_package_built_but_the_sources(tmp_path, release, built, key):
    """What the sdk machine hands the router: the feed's files, the key of its signature, and names.txt
    (hotspot-snoop is in the feed but was not built, hotspot-src is built but only sources)."""
    sdk = tmp_path / f"openwrt-{release}" / "sdk"
    out = sdk / "bin" / "packages" / "x86_64" / "hotspot"
    out.mkdir(parents=True)
    for name in built:
        (out / name).write_text(name)
    (sdk / key).write_text("the key")
    (tmp_path / f"openwrt-{release}" / "feed-packages").write_text(
        "hotspot\nhotspot-portal\nhotspot-snoop\nhotspot-src\nluci-i18n-hotspot-zh-cn\n")
    done = bash(". vagrant/sdk-build.sh && publish", REPO=str(ROOT), HOME=str(tmp_path),
                OPENWRT_RELEASE=release, PUBLISH=str(tmp_path / "feed"))
    assert done.returncode == 0, done.stderr
    published = tmp_path / "feed" / release
    assert sorted(p.name for p in published.iterdir()) == sorted([*built, key, "names.txt"])
    assert (published / "names.txt").read_text() == "hotspot\nhotspot-portal\nluci-i18n-hotspot-zh-cn\n"
    assert done.stderr == "sdk: not built (see the build log): hotspot-snoop\n"


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class Mirror:
    """downloads.openwrt.org's layout for one release's x86/64 target, served on the loopback."""

    def __init__(self, root: Path, release: str):
        self.release, self.target = release, root / "releases" / release / "targets" / "x86" / "64"
        self.target.mkdir(parents=True)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      functools.partial(Quiet, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def publish(self, files: dict[str, bytes], *, wrong: set[str] = frozenset()) -> None:
        lines = []
        for name, data in files.items():
            (self.target / name).write_bytes(data)
            digest = hashlib.sha256(data + (b"x" if name in wrong else b"")).hexdigest()
            lines.append(f"{digest} *{name}\n")
        (self.target / "sha256sums").write_text("".join(lines))

    def env(self, **more: str) -> dict[str, str]:
        return {"OPENWRT_MIRROR": self.url, "OPENWRT_RELEASE": self.release, **more}

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def mirror(tmp_path):
    mirrors = []

    def make(release: str) -> Mirror:
        mirrors.append(Mirror(tmp_path / f"mirror-{release}", release))
        return mirrors[-1]

    yield make
    for m in mirrors:
        m.close()


SDK = r"openwrt-sdk-.*-x86-64_.*\.Linux-x86_64\.tar\.(zst|xz)"  # as sdk-build.sh asks for it


@pytest.mark.parametrize(("release", "sdk", "fmt"), [
    ("24.10.8", "openwrt-sdk-24.10.8-x86-64_gcc-13.3.0_musl.Linux-x86_64.tar.zst", "ipk"),
    ("25.12.5", "openwrt-sdk-25.12.5-x86-64_gcc-14.3.0_musl.Linux-x86_64.tar.zst", "apk"),
    ("23.05.5", "openwrt-sdk-23.05.5-x86-64_gcc-12.3.0_musl.Linux-x86_64.tar.xz", "ipk"),
])
def test_the_release_files_are_found_by_their_names_in_sha256sums_and_checked(tmp_path, mirror, release, sdk,
                                                                               fmt):
    m = mirror(release)
    m.publish({f"openwrt-{release}-x86-64-generic-ext4-combined.img.gz": b"image", sdk: b"the sdk",
               f"openwrt-{release}-x86-64-generic-ext4-combined-efi.img.gz": b"efi"})
    done = bash(f". vagrant/release.sh && openwrt_format && openwrt_fetch '{SDK}' {tmp_path}/dl",
                **m.env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [fmt, f"{tmp_path}/dl/{sdk}"]
    assert (tmp_path / "dl" / sdk).read_bytes() == b"the sdk"


def test_a_download_that_does_not_match_sha256sums_is_refused(tmp_path, mirror):
    m = mirror("24.10.8")
    sdk = "openwrt-sdk-24.10.8-x86-64_gcc-13.3.0_musl.Linux-x86_64.tar.zst"
    m.publish({sdk: b"tampered"}, wrong={sdk})
    done = bash(f". vagrant/release.sh && openwrt_fetch '{SDK}' {tmp_path}/dl", **m.env())
    assert done.returncode != 0
    sums = f"{m.url}/releases/24.10.8/targets/x86/64/sha256sums"
    assert done.stderr.splitlines()[-1] == f"{sdk} does not match {sums}"
    missing = bash(f". vagrant/release.sh && openwrt_fetch 'openwrt-imagebuilder-.*' {tmp_path}/dl",
                   **m.env())
    assert missing.returncode != 0 and "no file matching openwrt-imagebuilder-.*" in missing.stderr


def openwrt_like_image(tmp_path: Path) -> bytes:
    """A disk shaped like OpenWrt's x86-64 ext4 combined image: an MBR, a small boot partition, the ext4
    root (with /etc/uci-defaults) last; gzipped and padded after the stream, as OpenWrt's are."""
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc" / "uci-defaults").mkdir(parents=True)
    (rootfs / "etc" / "openwrt_release").write_text("DISTRIB_RELEASE='24.10.8'\n")
    disk = tmp_path / "openwrt.img"
    with disk.open("wb") as f:
        f.truncate(40 << 20)
    subprocess.run(["sfdisk", "--quiet", str(disk)], input="label: dos\n2048,8192,83\n10240,,83\n", text=True,
                   check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(rootfs), "-E", f"offset={10240 * 512}", str(disk),
                    f"{(40 << 10) - 5120}k"], check=True)
    return gzip.compress(disk.read_bytes(), compresslevel=1) + b"\0" * 4096


def test_box_sh_makes_a_libvirt_box_from_the_release_image(tmp_path, mirror):
    """vagrant/box.sh for real (it mounts the image: root), on an image shaped like OpenWrt's."""
    assert os.geteuid() == 0, "box.sh mounts the image: run as root"
    m = mirror("24.10.8")
    m.publish({"openwrt-24.10.8-x86-64-generic-ext4-combined.img.gz": openwrt_like_image(tmp_path)})
    publish = tmp_path / "publish"
    publish.mkdir()
    keys = "ssh-rsa AAAAB3Nza test-rsa\nssh-ed25519 AAAAC3Nza test-ed25519"
    env = m.env(REPO=str(ROOT), PUBLISH=str(publish), WORK=str(tmp_path / "work"), VAGRANT_KEYS=keys)
    done = bash("bash vagrant/box.sh", **env)
    assert done.returncode == 0, done.stdout + done.stderr
    box = publish / "openwrt-24.10.8-x86-64.box"
    assert done.stdout.splitlines()[-1] == f"box: made {box}"

    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "-xzf", str(box), "-C", str(unpacked)], check=True)
    assert sorted(p.name for p in unpacked.iterdir()) == ["box.img", "metadata.json"]
    assert json.loads((unpacked / "metadata.json").read_text()) == {"provider": "libvirt", "format": "qcow2",
                                                                   "virtual_size": 1}
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(unpacked / "box.img")],
                                     capture_output=True, text=True, check=True).stdout)
    assert (info["format"], info["virtual-size"]) == ("qcow2", 1 << 30)

    raw = tmp_path / "disk.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(unpacked / "box.img"), str(raw)], check=True)
    partx = ["partx", "--noheadings", "--raw", "-n", "2", "-o", "START,SECTORS", str(raw)]
    start, sectors = (int(n) for n in subprocess.run(partx, capture_output=True, text=True,
                                                     check=True).stdout.split())
    assert (start + sectors) * 512 == 1 << 30, "the root partition takes the rest of the disk"
    root = f"{raw}?offset={start * 512}"  # e2fsprogs read the partition in the file itself

    def debugfs(request: str) -> str:
        return subprocess.run(["debugfs", "-R", request, root], capture_output=True, text=True,
                              check=True).stdout

    header = subprocess.run(["dumpe2fs", "-h", root], capture_output=True, text=True, check=True).stdout
    fields = dict(re.findall(r"^(Block count|Block size):\s+(\d+)$", header, re.M))
    assert int(fields["Block count"]) * int(fields["Block size"]) > sectors * 512 * 0.99, "ext4 grown"
    assert debugfs("cat /etc/dropbear/authorized_keys") == keys + "\n"
    assert re.search(r"Mode:\s+0600", debugfs("stat /etc/dropbear/authorized_keys"))
    defaults = (VAGRANT / "box-uci-defaults.sh").read_text()
    assert debugfs("cat /etc/uci-defaults/10-vagrant-box") == defaults
    assert re.search(r"Mode:\s+0755", debugfs("stat /etc/uci-defaults/10-vagrant-box"))
    assert debugfs("cat /etc/openwrt_release") == "DISTRIB_RELEASE='24.10.8'\n"
    assert not any(p.name in ("disk.img", "box.img") for p in (tmp_path / "work").iterdir())

    again = bash("bash vagrant/box.sh", **env)
    assert again.returncode == 0 and again.stdout.startswith(f"box: {box} is there")
