"""A real RTSP server (GStreamer's gst-rtsp-server) for the integration tests.

Run by the SYSTEM interpreter (/usr/bin/python3, which has python3-gi and the
GstRtspServer typelib), not the project's virtualenv:

    /usr/bin/python3 rtsp_server.py ADDRESS PORT MOUNT [USER PASSWORD]

Serves a live H.264 test pattern at rtsp://ADDRESS:PORT/MOUNT.  With USER and
PASSWORD the server demands Digest authentication (the RFC 2069 form without qop
that gst-rtsp-server sends, like many cameras) and only that account may play the mount.
"""

from __future__ import annotations

import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

PIPELINE = (
    "( videotestsrc is-live=true pattern=ball"
    " ! video/x-raw,width=320,height=240,framerate=10/1"
    " ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 bitrate=256"
    " ! rtph264pay name=pay0 pt=96 config-interval=1 )"
)
REALM = "IP Camera"
ROLE = "viewer"


def build(address: str, port: str, mount: str, credentials: tuple[str, str] | None
          ) -> GstRtspServer.RTSPServer:
    """One server bound to ``address:port`` with a shared live mount at ``mount``."""
    server = GstRtspServer.RTSPServer()
    server.set_address(address)
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)
    if credentials is not None:
        user, password = credentials
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.set_realm(REALM)
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, ROLE)
        auth.add_digest(user, password, token)
        server.set_auth(auth)
        factory.add_role_from_structure(Gst.Structure.from_string(
            f"{ROLE}, {GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS}=(boolean)true,"
            f" {GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT}=(boolean)true")[0])
    server.get_mount_points().add_factory(mount, factory)
    return server


def main(argv: list[str]) -> int:
    if len(argv) not in (4, 6):
        print(__doc__, file=sys.stderr)
        return 2
    address, port, mount = argv[1:4]
    credentials = (argv[4], argv[5]) if len(argv) == 6 else None
    Gst.init(None)
    server = build(address, port, mount, credentials)
    if server.attach(None) == 0:
        print(f"cannot listen on {address}:{port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print(f"listening rtsp://{address}:{port}{mount}", file=sys.stderr, flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
