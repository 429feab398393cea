"""Real servers from Debian's packages, each on its own loopback address at its standard port.

Every server gets a private configuration in a temporary folder; nothing under /etc is
changed.  Servers that need accounts (busybox telnetd, vsftpd with PAM) run inside
``unshare --mount`` with a private /etc/passwd and /etc/shadow bind-mounted over the
real ones, so no account of the machine is touched.

A missing program is a skip on a user's machine, and an ``apt-get install`` (or a failure)
when ``CI=true``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SYSTEM_PYTHON = "/usr/bin/python3"
READY_TIMEOUT = 15.0  # seconds a server gets to start listening
LOG_TAIL = 4000  # characters of a server log shown with a failure

IN_CI = os.environ.get("CI", "").lower() == "true"


# --------------------------------------------------------------------------- requirements

@dataclass(frozen=True)
class Need:
    """Something on the machine a server needs, and the Debian packages that bring it."""

    what: str
    packages: tuple[str, ...]
    present: Callable[[], bool]


def _quiet(argv: list[str], timeout: float = 30.0) -> bool:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=timeout).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _busybox_has(applet: str) -> bool:
    try:
        out = subprocess.run(["busybox", "--list"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return applet in out.split()


GST_ELEMENTS = ("videotestsrc", "x264enc", "rtph264pay")
GST_CHECK = (
    "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtsp', '1.0');"
    " gi.require_version('GstRtspServer', '1.0');"
    " from gi.repository import Gst, GstRtsp, GstRtspServer; Gst.init(None);"
    f" assert all(Gst.ElementFactory.find(e) for e in {GST_ELEMENTS!r})"
)

NEED_ROOT = Need("root (standard ports below 1024, mount namespaces)", (), lambda: os.geteuid() == 0)
NEED_GST = Need(
    "GStreamer RTSP server for /usr/bin/python3 with videotestsrc, x264enc, rtph264pay",
    ("python3-gi", "gir1.2-gst-rtsp-server-1.0", "gstreamer1.0-plugins-base",
     "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-ugly"),
    lambda: _quiet([SYSTEM_PYTHON, "-c", GST_CHECK]),
)
NEED_FFPROBE = Need("ffprobe", ("ffmpeg",), lambda: shutil.which("ffprobe") is not None)
NEED_TELNETD = Need(
    "busybox with the telnetd and login applets (Debian's busybox-static has them)",
    ("busybox-static",),
    lambda: _busybox_has("telnetd") and _busybox_has("login"),
)
NEED_UNSHARE = Need("unshare and mount", ("util-linux", "mount"),
                    lambda: bool(shutil.which("unshare") and shutil.which("mount")))
NEED_OPENSSL = Need("openssl (password hashes)", ("openssl",),
                    lambda: shutil.which("openssl") is not None)
NEED_LIGHTTPD = Need("lighttpd", ("lighttpd",), lambda: shutil.which("lighttpd") is not None)
NEED_VSFTPD = Need("vsftpd", ("vsftpd",), lambda: shutil.which("vsftpd") is not None)
NEED_SNMPD = Need("snmpd and snmpget", ("snmpd", "snmp"),
                  lambda: bool(shutil.which("snmpd") and shutil.which("snmpget")))


APT_TIMEOUT = 600.0  # seconds for one apt-get run


def _apt(*args: str) -> bool:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        return subprocess.run(["apt-get", *args], env=env, stdin=subprocess.DEVNULL,
                              timeout=APT_TIMEOUT).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _apt_install(packages: tuple[str, ...]) -> None:
    """Install, refreshing the package lists once if the first try fails."""
    args = ("install", "-y", "--no-install-recommends", *packages)
    if not _apt(*args):
        _apt("update")
        _apt(*args)


def ensure(*needs: Need) -> None:
    """Skip (user machine) or install-or-fail (CI) when something a server needs is missing."""
    for need in needs:
        if need.present():
            continue
        if not IN_CI:
            hint = f" (apt-get install {' '.join(need.packages)})" if need.packages else ""
            pytest.skip(f"integration: missing {need.what}{hint}")
        if need.packages:
            _apt_install(need.packages)
        if not need.present():
            pytest.fail(f"integration (CI): {need.what} missing and could not be installed"
                        f" with apt-get: {' '.join(need.packages) or 'nothing to install'}")


# --------------------------------------------------------------------------- processes

def _proc_net_key(address: str, port: int) -> str:
    """How /proc/net/{tcp,udp} spells an IPv4 address:port (little-endian hex)."""
    a, b, c, d = (int(x) for x in address.split("."))
    return f"{d:02X}{c:02X}{b:02X}{a:02X}:{port:04X}"


def listening(address: str, port: int, transport: str) -> bool:
    """Whether a socket is bound (UDP) or listening (TCP) on ``address:port``."""
    key = _proc_net_key(address, port)
    state = "0A" if transport == "tcp" else "07"  # TCP_LISTEN / UDP unconnected
    with open(f"/proc/net/{transport}", encoding="ascii") as f:
        next(f)
        return any(p[1] == key and p[3] == state for p in (line.split() for line in f))


@dataclass
class Server:
    """One real server process on ``address:port``, and what a test needs to know about it."""

    name: str
    address: str
    port: int
    argv: list[str]
    workdir: Path
    transport: str = "tcp"
    env: dict[str, str] | None = None
    username: str | None = None
    password: str | None = None  # the credential that works (None: none exists or none is known)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-LOG_TAIL:]
        except OSError as exc:
            return f"(no log: {exc})"

    def start(self) -> None:
        if listening(self.address, self.port, self.transport):
            pytest.fail(f"{self.name}: {self.address}:{self.port}/{self.transport} is already"
                        " taken (a server left over from an earlier run?)")
        with open(self.log, "wb") as log:
            log.write(f"$ {shlex.join(self.argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.workdir, env=self.env, start_new_session=True)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while not listening(self.address, self.port, self.transport):
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode} before listening"
                            f" on {self.address}:{self.port}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"{self.name} not listening on {self.address}:{self.port}/"
                            f"{self.transport} after {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it if it lingers."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(grace)
                break
            except subprocess.TimeoutExpired:
                continue
        try:  # children that outlived the leader (telnet sessions, vsftpd workers)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start_all(servers: list[Server]) -> None:
    """Start every server, then wait for each; stop them all if one fails."""
    try:
        for s in servers:
            s.start()
        for s in servers:
            s.wait_ready()
    except BaseException:
        stop_all(servers)
        raise


def stop_all(servers: list[Server]) -> None:
    for s in servers:
        s.stop()


def make_workdir(tag: str) -> Path:
    """A private folder for configs and logs, readable by the unprivileged login account."""
    path = Path(tempfile.mkdtemp(prefix=f"camaudit-integ-{tag}-"))
    path.chmod(0o755)
    return path


def strong_password() -> str:
    """A unique password no dictionary holds."""
    return "Zq" + secrets.token_urlsafe(18) + "9!"


def _sha512_crypt(password: str) -> str:
    out = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, text=True,
                         capture_output=True, check=True, timeout=10)
    return out.stdout.strip()


def private_accounts(folder: Path, username: str, password: str, shell: str,
                     home: Path) -> tuple[Path, Path]:
    """Write a private passwd/shadow pair with one unprivileged login account.

    The account gets uid 4242 even when it is called "root", so a login through the test
    server never yields a real root shell.
    """
    folder.mkdir(parents=True, exist_ok=True)
    passwd = folder / "passwd"
    shadow = folder / "shadow"
    passwd.write_text(
        f"{username}:x:4242:4242:{username}:{home}:{shell}\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        "ftp:x:4243:4243:ftp:/nonexistent:/usr/sbin/nologin\n")
    shadow.write_text(f"{username}:{_sha512_crypt(password)}:19000:0:99999:7:::\n"
                      "nobody:*:19000:0:99999:7:::\nftp:*:19000:0:99999:7:::\n")
    shadow.chmod(0o600)
    return passwd, shadow


def in_private_etc(binds: dict[str, Path], argv: list[str], hostname: str | None = None
                   ) -> list[str]:
    """``argv`` run in its own mount (and UTS) namespace with files bind-mounted over /etc.

    A target missing on this machine (/etc/motd) is left out.
    """
    steps = [f"mount --bind {shlex.quote(str(src))} {shlex.quote(dst)}"
             for dst, src in binds.items() if os.path.exists(dst)]
    if hostname:
        steps.append(f"hostname {shlex.quote(hostname)}")
    steps.append("exec " + shlex.join(argv))
    ns = ["--mount", "--propagation", "private"] + (["--uts"] if hostname else [])
    return ["unshare", *ns, "sh", "-c", " && ".join(steps)]


# --------------------------------------------------------------------------- the servers

RTSP_MOUNT = "/live"


def rtsp_servers(workdir: Path) -> list[Server]:
    """GStreamer RTSP server: open mount, Digest admin/admin, Digest with a strong password."""
    script = str(HERE / "rtsp_server.py")
    strong = strong_password()
    servers = [
        Server("rtsp-open", "127.30.0.10", 554, [SYSTEM_PYTHON, script, "127.30.0.10", "554",
                                                 RTSP_MOUNT], workdir),
        Server("rtsp-weak", "127.30.0.11", 554, [SYSTEM_PYTHON, script, "127.30.0.11", "554",
                                                 RTSP_MOUNT, "admin", "admin"], workdir,
               username="admin", password="admin"),
        Server("rtsp-strong", "127.30.0.12", 554, [SYSTEM_PYTHON, script, "127.30.0.12", "554",
                                                   RTSP_MOUNT, "admin", strong], workdir,
               username="admin", password=strong),
    ]
    return servers


def telnet_servers(workdir: Path) -> list[Server]:
    """busybox telnetd + busybox login: root/xc3511 (Mirai's list) and root/strong."""
    tools = workdir / "telnet-bin"
    tools.mkdir(parents=True, exist_ok=True)
    busybox = shutil.which("busybox") or "/bin/busybox"
    for applet in ("login", "sh"):  # busybox picks the applet from argv[0]
        link = tools / applet
        if not link.exists():
            link.symlink_to(busybox)
    issue = workdir / "telnet-issue"
    issue.write_text("\nIPC login\n")
    motd = workdir / "telnet-motd"
    motd.write_text("")
    servers = []
    for name, address, password in (("telnet-weak", "127.30.0.20", "xc3511"),
                                    ("telnet-strong", "127.30.0.21", strong_password())):
        passwd, shadow = private_accounts(workdir / name, "root", password,
                                          str(tools / "sh"), workdir / name)
        argv = in_private_etc(
            {"/etc/passwd": passwd, "/etc/shadow": shadow, "/etc/motd": motd},
            [busybox, "telnetd", "-F", "-b", f"{address}:23", "-l", str(tools / "login"),
             "-f", str(issue)],
            hostname="IPC")
        servers.append(Server(name, address, 23, argv, workdir, username="root",
                              password=password))
    return servers


HTTP_REALM = "IP Camera"


def http_servers(workdir: Path) -> list[Server]:
    """lighttpd with mod_auth Digest on /: admin/12345 and admin/strong."""
    www = workdir / "www"
    www.mkdir(parents=True, exist_ok=True)
    (www / "index.html").write_text(
        "<!DOCTYPE html><html><head><title>Web Client</title></head>"
        "<body><h1>Network Camera</h1></body></html>\n")
    servers = []
    for name, address, password in (("http-weak", "127.30.0.30", "12345"),
                                    ("http-strong", "127.30.0.31", strong_password())):
        ha1 = hashlib.md5(f"admin:{HTTP_REALM}:{password}".encode()).hexdigest()
        userfile = workdir / f"{name}.htdigest"
        userfile.write_text(f"admin:{HTTP_REALM}:{ha1}\n")
        userfile.chmod(0o600)
        conf = workdir / f"{name}.conf"
        conf.write_text(f"""\
server.modules = ("mod_auth", "mod_authn_file")
server.document-root = "{www}"
server.bind = "{address}"
server.port = 80
server.errorlog = "{workdir / (name + '.error.log')}"
index-file.names = ("index.html")
mimetype.assign = (".html" => "text/html")
auth.backend = "htdigest"
auth.backend.htdigest.userfile = "{userfile}"
auth.require = ("/" => ("method" => "digest", "realm" => "{HTTP_REALM}",
                        "require" => "valid-user"))
# answer a wrong password at once, as camera firmware does (lighttpd >= 1.4.58 waits seconds)
server.feature-flags = ("auth.delay-invalid-creds" => "disable")
""")
        servers.append(Server(name, address, 80, ["lighttpd", "-D", "-f", str(conf)], workdir,
                              username="admin", password=password))
    return servers


def ftp_servers(workdir: Path) -> list[Server]:
    """vsftpd: anonymous allowed; anonymous refused with one private strong account (PAM)."""
    empty = workdir / "ftp-empty"  # secure_chroot_dir: empty, root-owned, not writable
    empty.mkdir(parents=True, exist_ok=True)
    anon = workdir / "ftp-anon"
    (anon / "record").mkdir(parents=True, exist_ok=True)
    for d in (empty, anon):
        d.chmod(0o755)
    common = f"""\
listen=YES
listen_ipv6=NO
listen_port=21
write_enable=NO
secure_chroot_dir={empty}
anon_root={anon}
seccomp_sandbox=NO
isolate_network=NO
xferlog_enable=NO
"""
    anon_conf = workdir / "ftp-anon.conf"
    anon_conf.write_text(common + "listen_address=127.30.0.40\nanonymous_enable=YES\n"
                         "local_enable=NO\n")
    strong = strong_password()
    passwd, shadow = private_accounts(workdir / "ftp-strong", "admin", strong, "/bin/sh", empty)
    strong_conf = workdir / "ftp-strong.conf"
    strong_conf.write_text(common + "listen_address=127.30.0.41\nanonymous_enable=NO\n"
                           "local_enable=YES\npam_service_name=vsftpd\n")
    return [
        Server("ftp-anon", "127.30.0.40", 21, ["vsftpd", str(anon_conf)], workdir,
               username="anonymous"),
        Server("ftp-strong", "127.30.0.41", 21,
               in_private_etc({"/etc/passwd": passwd, "/etc/shadow": shadow},
                              ["vsftpd", str(strong_conf)]),
               workdir, username="admin", password=strong),
    ]


SNMP_SYSDESCR = "Hikvision DS-2CD2032-I"


def snmp_servers(workdir: Path) -> list[Server]:
    """net-snmp snmpd: community public (camera-like sysDescr); a random community only."""
    servers = []
    for name, address, community, camera in (("snmp-public", "127.30.0.50", "public", True),
                                             ("snmp-strong", "127.30.0.51",
                                              secrets.token_hex(12), False)):
        conf = workdir / f"{name}.conf"
        lines = [f"agentaddress udp:{address}:161", f"rocommunity {community} 127.0.0.0/8",
                 "sysname IPC", "syslocation Gate 1", "sysservices 72"]
        if camera:  # the other one keeps net-snmp's own sysDescr (uname)
            lines += [f"sysdescr {SNMP_SYSDESCR}", "sysobjectid .1.3.6.1.4.1.39165.1.1"]
        conf.write_text("\n".join(lines) + "\n")
        # -C: no system config; -I -smux: no SMUX listener on 127.0.0.1:199
        argv = ["snmpd", "-f", "-C", "-c", str(conf), "-I", "-smux", "-Lo",
                "-M", str(workdir / "no-mibs")]
        env = dict(os.environ, SNMP_PERSISTENT_DIR=str(workdir / f"{name}-persist"), MIBS="")
        servers.append(Server(name, address, 161, argv, workdir, transport="udp", env=env,
                              password=community))
    return servers



# --------------------------------------------------------------------------- the second set
#
# Real servers set up as devices in the wild are, and NOT as the lab is: other stream routes
# (Hikvision's old form, Dahua's realmonitor with its query, HiSilicon's /11, Ubiquiti's
# /live/ch00_0, TP-Link's /stream1), a server that serves any path, one that asks for a
# credential before it says whether a route exists, other realms and banners, factory passwords
# of no particular vendor, and not one vendor string.  Scanned with default options, every
# planted weakness must be found (tests/integration/test_scan_wild_servers.py).

WILD_NET = "127.31.0"
NEED_LIGHTTPD_TLS = Need("lighttpd with mod_openssl", ("lighttpd", "lighttpd-mod-openssl"),
                         lambda: Path("/usr/lib/lighttpd/mod_openssl.so").exists()
                         and shutil.which("lighttpd") is not None)

# a JPEG file header: what a snapshot URL answers (the scanner reads the first bytes only)
JPEG = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + b"\x00" * 200 + b"\xff\xd9")


@dataclass(frozen=True)
class Planted:
    """A weakness a correct scan reports: check ids (any of them), protocol, port."""

    checks: frozenset[str]
    protocol: str | None
    port: int | None

    @classmethod
    def of(cls, checks: str, protocol: str | None, port: int | None) -> "Planted":
        return cls(frozenset(checks.split("|")), protocol, port)


def wild_rtsp_servers(workdir: Path) -> list[Server]:
    """GStreamer RTSP servers on other routes, answering unknown routes in three ways."""
    script = str(HERE / "rtsp_server.py")
    strong = strong_password()

    def rtsp(name: str, last: int, port: int, mount: str, *extra: str,
             user: str | None = None, password: str | None = None) -> Server:
        address = f"{WILD_NET}.{last}"
        creds = [user, password] if user is not None and password is not None else []
        return Server(name, address, port, [SYSTEM_PYTHON, script, address, str(port), mount,
                                            *creds, *extra], workdir,
                      username=user, password=password)

    return [
        # Hikvision's pre-V5 route, open, 404 for other routes
        rtsp("w-rtsp-open-h264", 10, 554, "/h264/ch1/main/av_stream"),
        # a DVR that serves its stream whatever the path
        rtsp("w-rtsp-any-path", 11, 554, "/ch1", "--any-path", "--size", "704x576"),
        # Dahua's route (the query is ignored), Digest with a factory password, 404 first
        rtsp("w-rtsp-realmonitor", 12, 554, "/cam/realmonitor", "--realm", "Streaming Server",
             user="admin", password="admin"),
        # asks for a credential before saying whether a route exists
        rtsp("w-rtsp-auth-first", 13, 554, "/live/ch00_0", "--auth-first", "--realm", "RTSPD",
             user="admin", password="12345"),
        # HiSilicon's /11 on the alternate port, open, 720p
        rtsp("w-rtsp-open-11", 14, 8554, "/11", "--size", "1280x720"),
        # TP-Link's /stream1, Digest with a factory password
        rtsp("w-rtsp-stream1", 15, 554, "/stream1", "--realm", "Login", user="admin",
             password="123456"),
        # the well-secured host's stream (its other services are below)
        rtsp("w-secure-rtsp", 70, 554, "/stream1", "--auth-first", "--realm", "Secure",
             user="admin", password=strong),
    ]


def wild_telnet_servers(workdir: Path) -> list[Server]:
    """busybox telnetd, a plain "login:" prompt, root with Dahua's DVR password from Mirai's list."""
    tools = workdir / "telnet-bin"
    tools.mkdir(parents=True, exist_ok=True)
    busybox = shutil.which("busybox") or "/bin/busybox"
    for applet in ("login", "sh"):
        link = tools / applet
        if not link.exists():
            link.symlink_to(busybox)
    issue = workdir / "wild-telnet-issue"
    issue.write_text("\n")
    motd = workdir / "wild-telnet-motd"
    motd.write_text("")
    name, address, password = "w-telnet-mirai", f"{WILD_NET}.20", "vizxv"
    passwd, shadow = private_accounts(workdir / name, "root", password, str(tools / "sh"),
                                      workdir / name)
    argv = in_private_etc({"/etc/passwd": passwd, "/etc/shadow": shadow, "/etc/motd": motd},
                          [busybox, "telnetd", "-F", "-b", f"{address}:23", "-l",
                           str(tools / "login"), "-f", str(issue)],
                          hostname="localhost")
    return [Server(name, address, 23, argv, workdir, username="root", password=password)]


def _lighttpd(workdir: Path, name: str, address: str, port: int, body: str, *, auth: str = "",
              tls: tuple[Path, Path] | None = None, files: dict[str, bytes] | None = None,
              username: str | None = None, password: str | None = None) -> Server:
    www = workdir / f"{name}-www"
    www.mkdir(parents=True, exist_ok=True)
    (www / "index.html").write_text(body)
    for rel, data in (files or {}).items():
        (www / rel).write_bytes(data)
    lines = [
        'server.modules = ("mod_auth", "mod_authn_file"' + (', "mod_openssl")' if tls else ")"),
        f'server.document-root = "{www}"', f'server.bind = "{address}"', f"server.port = {port}",
        f'server.errorlog = "{workdir / (name + ".error.log")}"',
        'index-file.names = ("index.html")',
        'mimetype.assign = (".html" => "text/html", ".jpg" => "image/jpeg")',
        'server.feature-flags = ("auth.delay-invalid-creds" => "disable")',
        'server.tag = ""',  # no Server header at all: nothing names the software
    ]
    if tls:
        cert, key = tls
        lines += ['ssl.engine = "enable"', f'ssl.pemfile = "{cert}"', f'ssl.privkey = "{key}"',
                  # accept the 1024-bit key of the weak host (OpenSSL's level 2 refuses it)
                  'ssl.openssl.ssl-conf-cmd = ("CipherString" => "DEFAULT@SECLEVEL=0")']
    if auth:
        lines.append(auth)
    conf = workdir / f"{name}.conf"
    conf.write_text("\n".join(lines) + "\n")
    return Server(name, address, port, ["lighttpd", "-D", "-f", str(conf)], workdir,
                  username=username, password=password)


def _basic(workdir: Path, name: str, realm: str, user: str, password: str, where: str = "/") -> str:
    userfile = workdir / f"{name}.plain"
    userfile.write_text(f"{user}:{password}\n")
    userfile.chmod(0o600)
    return (f'auth.backend = "plain"\nauth.backend.plain.userfile = "{userfile}"\n'
            f'auth.require = ("{where}" => ("method" => "basic", "realm" => "{realm}",'
            ' "require" => "valid-user"))')


def _digest(workdir: Path, name: str, realm: str, user: str, password: str) -> str:
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    userfile = workdir / f"{name}.htdigest"
    userfile.write_text(f"{user}:{realm}:{ha1}\n")
    userfile.chmod(0o600)
    return (f'auth.backend = "htdigest"\nauth.backend.htdigest.userfile = "{userfile}"\n'
            f'auth.require = ("/" => ("method" => "digest", "realm" => "{realm}",'
            ' "require" => "valid-user"))')


def make_cert(workdir: Path, name: str, bits: int, cn: str) -> tuple[Path, Path]:
    """A self-signed certificate made by openssl (RSA ``bits``)."""
    cert, key = workdir / f"{name}.crt", workdir / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", f"rsa:{bits}", "-nodes", "-sha256",
                    "-keyout", str(key), "-out", str(cert), "-days", "3650", "-subj", f"/CN={cn}"],
                   check=True, capture_output=True, timeout=60)
    key.chmod(0o600)
    return cert, key


LOGIN_PAGE = ("<!DOCTYPE html><html><head><title>Login</title></head><body><form>"
              "User name <input name=u> Password <input type=password name=p></form></body></html>\n")
PLAIN_PAGE = "<!DOCTYPE html><html><head><title>index</title></head><body>ok</body></html>\n"


def wild_http_servers(workdir: Path) -> list[Server]:
    """lighttpd without a Server header: Basic and Digest logins under realms no lab device
    uses, an open snapshot, a weak HTTPS set-up, and the secure host's HTTPS."""
    strong = strong_password()
    weak_tls = make_cert(workdir, "w-https-weak", 1024, "192.168.1.108")
    good_tls = make_cert(workdir, "w-secure", 2048, "cam-gate.local")
    return [
        _lighttpd(workdir, "w-http-basic", f"{WILD_NET}.30", 80, LOGIN_PAGE,
                  auth=_basic(workdir, "w-http-basic", "Web Login", "admin", "123456"),
                  username="admin", password="123456"),
        _lighttpd(workdir, "w-http-digest", f"{WILD_NET}.31", 8080, LOGIN_PAGE,
                  auth=_digest(workdir, "w-http-digest", "Protected Area", "root", "pass"),
                  username="root", password="pass"),
        _lighttpd(workdir, "w-http-snapshot", f"{WILD_NET}.32", 80, LOGIN_PAGE,
                  files={"snapshot.jpg": JPEG}),
        _lighttpd(workdir, "w-https-weak", f"{WILD_NET}.40", 443, LOGIN_PAGE, tls=weak_tls,
                  auth=_basic(workdir, "w-https-weak", "Login", "admin", "admin"),
                  username="admin", password="admin"),
        _lighttpd(workdir, "w-secure-https", f"{WILD_NET}.70", 443, LOGIN_PAGE, tls=good_tls,
                  auth=_digest(workdir, "w-secure-https", "Secure", "admin", strong),
                  username="admin", password=strong),
    ]


def wild_ftp_servers(workdir: Path) -> list[Server]:
    """vsftpd with a banner naming nothing: anonymous allowed, and admin/12345."""
    empty = workdir / "w-ftp-empty"
    empty.mkdir(parents=True, exist_ok=True)
    anon = workdir / "w-ftp-anon"
    (anon / "record").mkdir(parents=True, exist_ok=True)
    for d in (empty, anon):
        d.chmod(0o755)
    common = (f"listen=YES\nlisten_ipv6=NO\nlisten_port=21\nwrite_enable=NO\n"
              f"secure_chroot_dir={empty}\nanon_root={anon}\nseccomp_sandbox=NO\n"
              "isolate_network=NO\nxferlog_enable=NO\nftpd_banner=Welcome to FTP service.\n")
    anon_conf = workdir / "w-ftp-anon.conf"
    anon_conf.write_text(common + f"listen_address={WILD_NET}.50\nanonymous_enable=YES\n"
                         "local_enable=NO\n")
    passwd, shadow = private_accounts(workdir / "w-ftp-weak", "admin", "12345", "/bin/sh", empty)
    weak_conf = workdir / "w-ftp-weak.conf"
    weak_conf.write_text(common + f"listen_address={WILD_NET}.51\nanonymous_enable=NO\n"
                         "local_enable=YES\npam_service_name=vsftpd\n")
    return [
        Server("w-ftp-anon", f"{WILD_NET}.50", 21, ["vsftpd", str(anon_conf)], workdir,
               username="anonymous"),
        Server("w-ftp-weak", f"{WILD_NET}.51", 21,
               in_private_etc({"/etc/passwd": passwd, "/etc/shadow": shadow},
                              ["vsftpd", str(weak_conf)]),
               workdir, username="admin", password="12345"),
    ]


def wild_snmp_servers(workdir: Path) -> list[Server]:
    """net-snmp snmpd: community "private" (the writable default) with a bare Linux sysDescr,
    and the secure host's agent with a random community."""
    servers = []
    for name, last, community in (("w-snmp-private", 60, "private"),
                                  ("w-secure-snmp", 70, secrets.token_hex(12))):
        address = f"{WILD_NET}.{last}"
        conf = workdir / f"{name}.conf"
        conf.write_text("\n".join([
            f"agentaddress udp:{address}:161", f"rocommunity {community} 127.0.0.0/8",
            "sysname cam01", "syslocation Gate 2", "sysdescr Linux 3.10.14 armv7l",
            "sysobjectid .1.3.6.1.4.1.8072.3.2.10"]) + "\n")
        argv = ["snmpd", "-f", "-C", "-c", str(conf), "-I", "-smux", "-Lo",
                "-M", str(workdir / "no-mibs")]
        env = dict(os.environ, SNMP_PERSISTENT_DIR=str(workdir / f"{name}-persist"), MIBS="")
        servers.append(Server(name, address, 161, argv, workdir, transport="udp", env=env,
                              password=community))
    return servers


# server name -> the weaknesses planted on it (each must be found by a default scan)
WILD_PLANTED: dict[str, list[Planted]] = {
    "w-rtsp-open-h264": [Planted.of("rtsp-anonymous", "rtsp", 554)],
    "w-rtsp-any-path": [Planted.of("rtsp-anonymous", "rtsp", 554)],
    "w-rtsp-realmonitor": [Planted.of("default-credentials|weak-credentials", "rtsp", 554)],
    "w-rtsp-auth-first": [Planted.of("default-credentials|weak-credentials", "rtsp", 554)],
    "w-rtsp-open-11": [Planted.of("rtsp-anonymous", "rtsp", 8554)],
    "w-rtsp-stream1": [Planted.of("default-credentials|weak-credentials", "rtsp", 554)],
    "w-telnet-mirai": [Planted.of("default-credentials|weak-credentials", "telnet", 23),
                       Planted.of("cleartext-telnet", "telnet", 23)],
    "w-http-basic": [Planted.of("default-credentials|weak-credentials", "http", 80),
                     Planted.of("cleartext-http", "http", 80)],
    "w-http-digest": [Planted.of("default-credentials|weak-credentials", "http", 8080),
                      Planted.of("cleartext-http", "http", 8080)],
    "w-http-snapshot": [Planted.of("unauthenticated-snapshot", "http", 80),
                        Planted.of("cleartext-http", "http", 80)],
    "w-https-weak": [Planted.of("default-credentials|weak-credentials", "https", 443),
                     Planted.of("tls-weak", "tls", 443)],
    "w-ftp-anon": [Planted.of("ftp-anonymous", "ftp", 21), Planted.of("cleartext-ftp", "ftp", 21)],
    "w-ftp-weak": [Planted.of("default-credentials|weak-credentials", "ftp", 21),
                   Planted.of("cleartext-ftp", "ftp", 21)],
    "w-snmp-private": [Planted.of("snmp-default-community", "snmp", 161)],
}
WILD_SECURE = ("w-secure-rtsp", "w-secure-https", "w-secure-snmp")  # one host: 127.31.0.70
