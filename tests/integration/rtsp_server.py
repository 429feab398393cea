"""A real RTSP server (GStreamer's gst-rtsp-server) for the integration tests.

Run by the SYSTEM interpreter (/usr/bin/python3, which has python3-gi and the
GstRtspServer typelib), not the project's virtualenv:

    /usr/bin/python3 rtsp_server.py ADDRESS PORT MOUNT [USER PASSWORD]
        [--realm REALM] [--size WxH] [--any-path] [--auth-first]

Serves a live H.264 test pattern at rtsp://ADDRESS:PORT/MOUNT (MOUNT may carry a query, as
Dahua's ``/cam/realmonitor?channel=1&subtype=0``).  With USER and PASSWORD the server demands
Digest authentication (the RFC 2069 form without qop that gst-rtsp-server sends, like many
cameras) and only that account may play the mount.  How unknown routes are answered:

  (default)     404 for a route that is not MOUNT, before any credential is asked
  --any-path    every route plays the stream (cheap DVRs ignore the path)
  --auth-first  a credential is asked before the server says whether a route exists (401 on
                any route); once authenticated, a wrong route is refused
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

PIPELINE = (
    "( videotestsrc is-live=true pattern=ball"
    " ! video/x-raw,width={w},height={h},framerate=10/1"
    " ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 bitrate=256"
    " ! rtph264pay name=pay0 pt=96 config-interval=1 )"
)
ROLE = "viewer"


class AnyPath(GstRtspServer.RTSPMountPoints):
    """Every request URL maps to the one mount: the path is ignored."""

    def __init__(self, mount: str) -> None:
        super().__init__()
        self.mount = mount

    def do_make_path(self, url: GstRtsp.RTSPUrl) -> str:
        return self.mount


class AuthFirst(GstRtspServer.RTSPAuth):
    """Authenticate every request but OPTIONS before looking the route up."""

    def do_check(self, ctx: GstRtspServer.RTSPContext, check: str) -> bool:
        if check == GstRtspServer.RTSP_AUTH_CHECK_URL and ctx.method != GstRtsp.RTSPMethod.OPTIONS:
            # the client-settings check authenticates first and answers 401 when it cannot
            return GstRtspServer.RTSPAuth.do_check(
                self, ctx, GstRtspServer.RTSP_AUTH_CHECK_TRANSPORT_CLIENT_SETTINGS)
        return GstRtspServer.RTSPAuth.do_check(self, ctx, check)


def build(args: argparse.Namespace) -> GstRtspServer.RTSPServer:
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(args.port)
    factory = GstRtspServer.RTSPMediaFactory()
    w, h = args.size.split("x")
    factory.set_launch(PIPELINE.format(w=int(w), h=int(h)))
    factory.set_shared(True)
    if args.user is not None:
        auth = AuthFirst() if args.auth_first else GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.set_realm(args.realm)
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, ROLE)
        token.set_bool(GstRtspServer.RTSP_TOKEN_TRANSPORT_CLIENT_SETTINGS, True)
        auth.add_digest(args.user, args.password, token)
        server.set_auth(auth)
        factory.add_role_from_structure(Gst.Structure.from_string(
            f"{ROLE}, {GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS}=(boolean)true,"
            f" {GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT}=(boolean)true")[0])
    mounts = AnyPath(args.mount) if args.any_path else server.get_mount_points()
    if args.any_path:
        server.set_mount_points(mounts)
    mounts.add_factory(args.mount, factory)
    return server


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("address")
    p.add_argument("port")
    p.add_argument("mount")
    p.add_argument("user", nargs="?")
    p.add_argument("password", nargs="?")
    p.add_argument("--realm", default="IP Camera")
    p.add_argument("--size", default="320x240")
    p.add_argument("--any-path", action="store_true")
    p.add_argument("--auth-first", action="store_true")
    args = p.parse_args(argv)
    if (args.user is None) != (args.password is None):
        p.error("give both USER and PASSWORD, or neither")
    if args.auth_first and args.user is None:
        p.error("--auth-first needs USER and PASSWORD")
    return args


def main(argv: list[str]) -> int:
    args = parse(argv[1:])
    Gst.init(None)
    server = build(args)
    if server.attach(None) == 0:
        print(f"cannot listen on {args.address}:{args.port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print(f"listening rtsp://{args.address}:{args.port}{args.mount}", file=sys.stderr, flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
