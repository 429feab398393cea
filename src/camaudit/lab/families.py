"""The web faces of the device families: paths, headers, realms and bodies as the real
firmware serves them (Hikvision ISAPI, Dahua RPC2, Axis VAPIX, Uniview LAPI, XMeye uc-httpd,
MikroTik WebFig, nginx)."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from typing import Any
from xml.sax.saxutils import escape

from camaudit.lab.auth import BasicRealm, DigestRealm, Gate
from camaudit.lab.fleet import Device
from camaudit.lab.onvif import OnvifService
from camaudit.lab.wire import Request, Response

HTML = "text/html"


def page(title: str, body: str = "") -> bytes:
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"</head><body>{body}</body></html>\n").encode()


class Web:
    """Base: routes /onvif/* to the ONVIF service when the device has one, and serves the
    family's snapshot path with no credential when the device declares it."""

    server: str | None = None
    snapshot_path: str | None = None
    jpeg = b""  # set by the lab server (media.make_snapshot)

    def __init__(self, device: Device, gate: Gate, onvif: OnvifService | None) -> None:
        self.d = device
        self.gate = gate
        self.onvif = onvif
        self.service = "https" if "https" in device.protocols() and "http" not in device.protocols() else "http"

    async def handle(self, req: Request) -> Response:
        if self.onvif is not None and req.path.startswith("/onvif/"):
            return await self.onvif.handle(req)
        if req.path == self.snapshot_path and "snapshot" in self.d.anonymous:
            return self.snapshot()
        return await self.route(req)

    def snapshot(self) -> Response:
        return Response(200, self.jpeg, content_type="image/jpeg")

    async def route(self, req: Request) -> Response:
        return Response(404, page("404 Not Found", "<h1>Not Found</h1>"))

    def challenge(self, realm: DigestRealm | BasicRealm, req: Request) -> Response | None:
        """None when the request carries a valid credential; else the 401/403 to send."""
        outcome, _ = realm.verify(self.gate, self.service, req.source, req.method,
                                  req.header("authorization"))
        if outcome == "success":
            return None
        if outcome == "locked":
            return self.locked(req)
        return Response(401, page("401 Unauthorized", "<h1>401 Unauthorized</h1>"),
                        headers=[("WWW-Authenticate", c) for c in realm.challenges(outcome == "stale")])

    def locked(self, req: Request) -> Response:
        return Response(403, page("403 Forbidden", "<h1>403 Forbidden</h1>"))


# --------------------------------------------------------------------------- Hikvision

class HikvisionWeb(Web):
    snapshot_path = "/ISAPI/Streaming/channels/101/picture"

    def __init__(self, device: Device, gate: Gate, onvif: OnvifService | None) -> None:
        super().__init__(device, gate, onvif)
        self.nvr = device.kind == "nvr"
        self.server = "DNVRS-Webs" if self.nvr else "App-webs/"
        self.realm = DigestRealm("DVRNVRDVS" if self.nvr else f"IP Camera({(device.serial or '00000')[-5:]})")
        self.device_id = str(uuid.uuid5(uuid.NAMESPACE_OID, device.serial or device.name))

    def _xml(self, status: int, body: str) -> Response:
        return Response(status, ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode(),
                        content_type='application/xml; charset="UTF-8"')

    def _user_check_fail(self, req: Request, locked: bool) -> Response:
        lock = self.gate.lock
        if self.d.lockout is None:
            return Response(401, page("Document Error: Unauthorized",
                                      "<h2>Access Error: 401 -- Unauthorized</h2>"
                                      "<p>Authentication Error: Access Denied! Authorization required.</p>"),
                            headers=[("WWW-Authenticate", c) for c in self.realm.challenges()])
        body = ('<userCheck version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
                "<statusValue>401</statusValue><statusString>Unauthorized</statusString>"
                f"<lockStatus>{'lock' if locked else 'unlock'}</lockStatus>"
                f"<unlockTime>{int(lock.remaining(req.source))}</unlockTime>"
                f"<retryLoginTime>{0 if locked else lock.retries_left(req.source)}</retryLoginTime>"
                "</userCheck>")
        r = self._xml(401, body)
        r.headers.extend(("WWW-Authenticate", c) for c in self.realm.challenges())
        return r

    async def route(self, req: Request) -> Response:
        if req.path in ("/", "/index.asp"):
            return Response(200, page("", '<script>window.location.href = "/doc/page/login.asp?_" + '
                                          "(new Date()).getTime();</script>"))
        if req.path == "/doc/page/login.asp":
            return Response(200, page("", '<div id="login"></div><script src="../script/lib/require/'
                                          'require.js" data-main="../script/login/main"></script>'))
        if req.path == "/ISAPI/System/deviceInfo" and "info" in self.d.anonymous:
            return self.isapi(req)  # old firmware: deviceInfo answered with no credential
        if req.path.startswith("/ISAPI/") or req.path.startswith("/PSIA/"):
            outcome, _ = self.realm.verify(self.gate, self.service, req.source, req.method,
                                           req.header("authorization"))
            if outcome != "success":
                if outcome in ("none", "stale") and self.gate.lock.remaining(req.source) == 0:
                    return Response(401, page("Document Error: Unauthorized",
                                              "<h2>Access Error: 401 -- Unauthorized</h2>"),
                                    headers=[("WWW-Authenticate", c)
                                             for c in self.realm.challenges(outcome == "stale")])
                return self._user_check_fail(req, outcome == "locked" or self.gate.lock.remaining(req.source) > 0)
            return self.isapi(req)
        return Response(404, page("Document Error: Page not found",
                                  "<h2>Access Error: 404 -- Not Found</h2><p>Cannot open URL</p>"))

    def isapi(self, req: Request) -> Response:
        d = self.d
        if req.path == "/ISAPI/Security/userCheck":
            return self._xml(200, '<userCheck version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
                                  "<statusValue>200</statusValue><statusString>OK</statusString></userCheck>")
        if req.path == self.snapshot_path:
            return Response(200, self.jpeg, content_type="image/jpeg")
        if req.path == "/ISAPI/System/deviceInfo":
            version, _, build = (d.firmware or "").partition(" ")
            fields = [
                ("deviceName", "Embedded Net DVR" if self.nvr else "IP CAMERA"),
                ("deviceID", self.device_id),
                ("deviceDescription", "NVR" if self.nvr else "IPCamera"),
                ("deviceLocation", "hangzhou"), ("systemContact", "Hikvision.China"),
                ("model", d.model or ""), ("serialNumber", d.serial or ""),
                ("macAddress", d.mac or ""), ("firmwareVersion", version),
                ("firmwareReleasedDate", build), ("encoderVersion", "V7.3"),
                ("encoderReleasedDate", "build 160503"), ("bootVersion", "V1.3.4"),
                ("bootReleasedDate", "100316"), ("hardwareVersion", "0x0"),
                ("deviceType", "NVR" if self.nvr else "IPCamera"), ("telecontrolID", "255"),
                ("supportBeep", "true" if self.nvr else "false"), ("supportVideoLoss", "false"),
            ]
            inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields)
            return self._xml(200, '<DeviceInfo version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
                                  f"{inner}</DeviceInfo>")
        return self._xml(404, '<ResponseStatus version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
                              f"<requestURL>{escape(req.path)}</requestURL><statusCode>4</statusCode>"
                              "<statusString>Invalid Operation</statusString><subStatusCode>notSupport"
                              "</subStatusCode></ResponseStatus>")


# --------------------------------------------------------------------------- Dahua

def _md5u(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest().upper()


class DahuaWeb(Web):
    server = None  # Dahua's web server sends no Server header
    snapshot_path = "/cgi-bin/snapshot.cgi"
    CHALLENGE, BAD_LOGIN, LOCKED, BAD_SESSION = 268632079, 268632085, 268632081, 287637505
    NO_USER, BAD_PASSWORD = 268632070, 268632071  # firmware that words failures apart

    def __init__(self, device: Device, gate: Gate, onvif: OnvifService | None) -> None:
        super().__init__(device, gate, onvif)
        self.realm_name = f"Login to {device.serial}"
        self.cgi_realm = DigestRealm(self.realm_name)
        self.sessions: dict[str, dict[str, Any]] = {}
        version, _, date = (device.firmware or "").partition(", Build Date: ")
        self.version = version.lstrip("V")
        self.build_date = date

    def _json(self, obj: dict[str, Any]) -> Response:
        return Response(200, json.dumps(obj).encode(), content_type="application/json; charset=UTF-8")

    def _body(self, req: Request) -> dict[str, Any] | None:
        try:
            obj = json.loads(req.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        return obj if isinstance(obj, dict) else None

    async def route(self, req: Request) -> Response:
        if req.path in ("/", "/index.html"):
            return Response(200, page("WEB SERVICE", '<div id="login"></div><script src="/jsBase/'
                                                     'lib/jquery.min.js"></script>'))
        if req.path == "/RPC2_Login" and req.method == "POST":
            return self.rpc_login(req)
        if req.path == "/RPC2" and req.method == "POST":
            return self.rpc(req)
        if req.path == self.snapshot_path:
            return self.challenge(self.cgi_realm, req) or self.snapshot()
        if req.path == "/cgi-bin/magicBox.cgi":
            denied = None if "info" in self.d.anonymous else self.challenge(self.cgi_realm, req)
            if denied:
                return denied
            action = req.query.get("action")
            if action == "getSystemInfo":
                text = (f"deviceType={self.d.model}\r\nprocessor=SSC327DE\r\n"
                        f"serialNumber={self.d.serial}\r\nupdateSerial=IPC-HDW1230S-S2\r\n")
                return Response(200, text.encode(), content_type="text/plain")
            if action == "getSoftwareVersion":
                return Response(200, f"version={self.version},build:{self.build_date}\r\n".encode(),
                                content_type="text/plain")
            return Response(400, b"Error\r\nBad Request!\r\n", content_type="text/plain")
        return Response(404, page("404 Not Found", "<h1>404 Not Found</h1>"))

    def rpc_login(self, req: Request) -> Response:
        body = self._body(req)
        if body is None or body.get("method") != "global.login":
            return self._json({"error": {"code": 268959743, "message": "Unknown error! error code was not set in service!"},
                               "id": body.get("id") if body else None, "result": False, "session": 0})
        obj: dict[str, Any] = body
        raw_params = obj.get("params")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        user = str(params.get("userName", ""))
        sess = str(obj.get("session") or "")
        state = self.sessions.get(sess)
        rid = obj.get("id")
        if state is None or not params.get("password"):
            if len(self.sessions) > 1024:
                self.sessions.clear()
            sess = secrets.token_hex(16)
            rand = str(secrets.randbelow(10**9))
            self.sessions[sess] = {"random": rand, "user": user, "ok": False}
            return self._json({
                "error": {"code": self.CHALLENGE, "message": "Component error: login challenge!"},
                "id": rid, "params": {"authorization": secrets.token_hex(20), "encryption": "Default",
                                      "mac": (self.d.mac or "").replace(":", "").upper(),
                                      "random": rand, "realm": self.realm_name},
                "result": False, "session": sess})
        sent = str(params.get("password", ""))

        def verify(pw: str) -> bool:
            return _md5u(f"{user}:{state['random']}:{_md5u(f'{user}:{self.realm_name}:{pw}')}") == sent

        outcome = self.gate.check(self.service, req.source, user, None, verify=verify)
        if outcome == "success":
            state["ok"] = True
            return self._json({"id": rid, "params": {"keepAliveInterval": 60}, "result": True, "session": sess})
        del self.sessions[sess]
        if outcome == "locked":
            code, message = self.LOCKED, "Component error: User has been locked!"
        elif not self.d.login_error_oracle:
            code, message = self.BAD_LOGIN, "Component error: User or password not valid!"
        elif user in self.gate.accounts.get(self.service, {}):
            code, message = self.BAD_PASSWORD, "Component error: password not valid!"
        else:
            code, message = self.NO_USER, "Component error: user not valid!"
        return self._json({"error": {"code": code, "message": message}, "id": rid,
                           "params": {"remainLockTimes": 5}, "result": False, "session": sess})

    def rpc(self, req: Request) -> Response:
        obj = self._body(req) or {}
        sess = str(obj.get("session") or "")
        rid = obj.get("id")
        if not self.sessions.get(sess, {}).get("ok"):
            return self._json({"error": {"code": self.BAD_SESSION, "message": "Invalid session in request data!"},
                               "id": rid, "result": False, "session": sess})
        method = obj.get("method")
        d = self.d
        results: dict[str, dict[str, Any]] = {
            "magicBox.getDeviceType": {"type": d.model},
            "magicBox.getSerialNo": {"sn": d.serial},
            "magicBox.getMachineName": {"name": d.serial},
            "magicBox.getSoftwareVersion": {"version": {
                "Build": self.build_date.replace("-", ""), "BuildDate": self.build_date,
                "SecurityBaseLineVersion": "V2.0.0", "Version": self.version, "WebVersion": "3.2.1.840206"}},
            "magicBox.getDeviceClass": {"type": "IPC"},
            "global.keepAlive": {"timeout": 60},
        }
        if method == "global.logout":
            self.sessions.pop(sess, None)
            return self._json({"id": rid, "result": True, "session": sess})
        if method in results:
            return self._json({"id": rid, "params": results[method], "result": True, "session": sess})
        return self._json({"error": {"code": 268894209, "message": "Method not found!"}, "id": rid,
                           "result": False, "session": sess})


# --------------------------------------------------------------------------- Axis

class AxisWeb(Web):
    snapshot_path = "/axis-cgi/jpg/image.cgi"

    def __init__(self, device: Device, gate: Gate, onvif: OnvifService | None) -> None:
        super().__init__(device, gate, onvif)
        self.modern = int((device.firmware or "0").split(".")[0]) >= 9
        self.server = "Apache" if self.modern else "Apache/2.4.27 (Unix) OpenSSL/1.0.2l"
        self.realm = DigestRealm(f"AXIS_{(device.mac or '').replace(':', '').upper()}")

    def locked(self, req: Request) -> Response:
        return Response(403, page("403 Forbidden",
                                  "<h1>Forbidden</h1><p>Too many failed login attempts. Access from your "
                                  "IP address is blocked.</p>"))

    def props(self) -> dict[str, str]:
        d = self.d
        return {"Architecture": "armv7hf", "Brand": "AXIS", "BuildDate": "Jun 12 2018 10:17",
                "HardwareID": "76A.1", "ProdFullName": f"AXIS {d.model} Network Camera",
                "ProdNbr": d.model or "", "ProdShortName": f"AXIS {d.model}",
                "ProdType": "Network Camera", "ProdVariant": "", "SerialNumber": d.serial or "",
                "Soc": "Ambarella S2L", "SocSerialNumber": "00000000-00000000-44A0E9C2-C4D03051",
                "Version": d.firmware or "", "WebURL": "http://www.axis.com"}

    async def route(self, req: Request) -> Response:
        if self.gate.lock.remaining(req.source) > 0 and req.path != "/":
            if req.header("authorization"):
                self.gate.recorder.record(self.gate.address, self.service, "", "locked")
            return self.locked(req)
        if req.path == "/":
            if self.modern:
                return Response(302, b"", headers=[("Location", "/camera/index.html")])
            return Response(200, page("Index page", '<meta http-equiv="refresh" content="0; '
                                                    'URL=/view/viewer_index.shtml?id=0">'))
        if req.path in ("/camera/index.html", "/view/viewer_index.shtml"):
            denied = None if self.modern else self.challenge(self.realm, req)
            return denied or Response(200, page(f"AXIS {self.d.model}", '<div id="root"></div>'))
        if req.path == self.snapshot_path:
            return self.challenge(self.realm, req) or self.snapshot()
        if req.path == "/axis-cgi/basicdeviceinfo.cgi" and req.method == "POST":
            try:
                obj = json.loads(req.body.decode("utf-8"))
                method = obj.get("method") if isinstance(obj, dict) else None
            except (UnicodeDecodeError, json.JSONDecodeError):
                method = None
            props = self.props()
            if method == "getAllUnrestrictedProperties":
                keep = ("Architecture", "Brand", "BuildDate", "HardwareID", "ProdFullName", "ProdNbr",
                        "ProdShortName", "ProdType", "ProdVariant", "SerialNumber", "Soc",
                        "SocSerialNumber", "Version", "WebURL")
                data = {k: props[k] for k in keep}
            elif method == "getAllProperties":
                denied = self.challenge(self.realm, req)
                if denied:
                    return denied
                data = props
            else:
                return Response(200, json.dumps({"apiVersion": "1.0", "error": {
                    "code": 4002, "message": "Method not supported"}}).encode(), content_type="application/json")
            return Response(200, json.dumps({"apiVersion": "1.0", "data": {"propertyList": data}}).encode(),
                            content_type="application/json")
        if req.path == "/axis-cgi/param.cgi":
            denied = self.challenge(self.realm, req)
            if denied:
                return denied
            groups = (req.query.get("group") or "").split(",")
            p = self.props()
            lines = []
            if any(g.startswith("Brand") for g in groups):
                lines += ["root.Brand.Brand=AXIS", f"root.Brand.ProdFullName={p['ProdFullName']}",
                          f"root.Brand.ProdNbr={p['ProdNbr']}", f"root.Brand.ProdShortName={p['ProdShortName']}",
                          f"root.Brand.ProdType={p['ProdType']}", "root.Brand.ProdVariant=",
                          "root.Brand.WebURL=http://www.axis.com"]
            if any(g.startswith("Properties") for g in groups):
                lines += ["root.Properties.API.HTTP.Version=3", "root.Properties.Firmware.BuildDate="
                          + p["BuildDate"], f"root.Properties.Firmware.Version={p['Version']}",
                          f"root.Properties.System.Architecture={p['Architecture']}",
                          f"root.Properties.System.SerialNumber={p['SerialNumber']}",
                          f"root.Properties.System.Soc={p['Soc']}"]
            if not lines:
                return Response(200, b"# Error: Error -1 getting param in group 'x'\n", content_type="text/plain")
            return Response(200, ("\n".join(lines) + "\n").encode(), content_type="text/plain")
        return Response(404, page("404 Not Found", "<h1>Not Found</h1><p>The requested URL was not found on this server.</p>"))


class UpnpWeb(Web):
    """The Portable UPnP SDK's description server (the SSDP LOCATION)."""

    server = "Linux/4.9.0, UPnP/1.0, Portable SDK for UPnP devices/1.6.22"

    async def route(self, req: Request) -> Response:
        d = self.d
        if req.path != "/rootdesc1.xml":
            return Response(404, b"", content_type=None)
        udn = uuid.uuid5(uuid.NAMESPACE_OID, f"upnp-{d.serial}")
        body = ('<?xml version="1.0"?>\n<root xmlns="urn:schemas-upnp-org:device-1-0">'
                "<specVersion><major>1</major><minor>0</minor></specVersion><device>"
                "<deviceType>urn:schemas-upnp-org:device:Basic:1</deviceType>"
                f"<friendlyName>AXIS {escape(d.model or '')} - {escape(d.serial or '')}</friendlyName>"
                "<manufacturer>AXIS</manufacturer><manufacturerURL>http://www.axis.com/</manufacturerURL>"
                f"<modelDescription>AXIS {escape(d.model or '')} Network Camera</modelDescription>"
                f"<modelName>AXIS {escape(d.model or '')}</modelName><modelNumber>{escape(d.model or '')}</modelNumber>"
                f"<serialNumber>{escape(d.serial or '')}</serialNumber><UDN>uuid:{udn}</UDN>"
                f"<presentationURL>http://{d.address}:80/</presentationURL></device></root>")
        return Response(200, body.encode(), content_type='text/xml; charset="utf-8"')


# --------------------------------------------------------------------------- others

class UniviewWeb(Web):
    server = None

    def __init__(self, device: Device, gate: Gate, onvif: OnvifService | None) -> None:
        super().__init__(device, gate, onvif)
        self.realm = DigestRealm("LAPI")

    async def route(self, req: Request) -> Response:
        d = self.d
        if req.path in ("/", "/index.htm"):
            return Response(200, page("Web Client", '<div id="app"></div><script src="/script/'
                                                    'main.js"></script>'))
        if req.path.startswith("/LAPI/V1.0/"):
            denied = self.challenge(self.realm, req)
            if denied:
                return denied
            if req.path == "/LAPI/V1.0/System/DeviceBasicInfo":
                data: dict[str, Any] = {"DeviceModel": d.model, "SerialNumber": d.serial,
                                        "MAC": d.mac, "FirmwareVersion": d.firmware,
                                        "HardwareVersion": "A", "Manufacturer": "Uniview"}
                code, text = 0, "Succeed"
            else:
                data, code, text = {}, 3, "Not Support"
            return Response(200, json.dumps({"Response": {
                "ResponseURL": req.path, "CreatedID": -1, "ResponseCode": code, "SubResponseCode": 0,
                "ResponseString": text, "StatusCode": code, "StatusString": text, "Data": data}}).encode(),
                content_type="application/json")
        return Response(404, page("404 Not Found"))


class GenericOnvifWeb(Web):
    server = None

    async def route(self, req: Request) -> Response:
        if req.path == "/":
            return Response(200, page("Network Camera", '<div id="login"></div><script src="/js/'
                                                        'login.js"></script>'))
        return Response(404, page("404 Not Found"))


class XiongmaiWeb(Web):
    server = "uc-httpd 1.0.0"
    snapshot_path = "/webcapture.jpg"

    async def route(self, req: Request) -> Response:
        if req.path in ("/", "/index.htm", "/Login.htm"):
            return Response(200, page("NETSurveillance WEB",
                                      '<OBJECT id="ocx" classid="CLSID:52C0D6B7-DC0D-4E8E-8F0B-7A7F2C1C4B6F" '
                                      'codebase="/Netsurveillance.cab#version=1,0,1,5"></OBJECT>'),
                            content_type="text/html; charset=gb2312")
        return Response(404, b"<html><head><title>404 Not Found</title></head><body>"
                             b"<h1>Not Found</h1></body></html>")


class MikrotikWeb(Web):
    server = None

    async def route(self, req: Request) -> Response:
        if req.path in ("/", "/webfig/"):
            return Response(200, page("RouterOS router configuration page",
                                      f"<h1>RouterOS v{escape(self.d.firmware or '')}</h1>"
                                      '<p>You have connected to a router. Administrative access only.</p>'
                                      '<a href="/webfig/">Webfig</a> <div class="ft">mikrotik</div>'))
        return Response(404, page("Error 404: Not Found"))


class NginxWeb(Web):
    def __init__(self, device: Device, gate: Gate, onvif: OnvifService | None) -> None:
        super().__init__(device, gate, onvif)
        self.server = f"nginx/{device.firmware}"

    async def route(self, req: Request) -> Response:
        if req.path in ("/", "/index.html"):
            return Response(200, page("Welcome to nginx!",
                                      "<h1>Welcome to nginx!</h1><p>If you see this page, the nginx web "
                                      "server is successfully installed and working. Further configuration "
                                      "is required.</p>"))
        return Response(404, b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center>"
                             b"<h1>404 Not Found</h1></center>\r\n<hr><center>nginx/"
                             + (self.d.firmware or "").encode() + b"</center>\r\n</body>\r\n</html>\r\n")


WEB = {"hikvision": HikvisionWeb, "dahua": DahuaWeb, "axis": AxisWeb, "uniview": UniviewWeb,
       "onvif-generic": GenericOnvifWeb, "xiongmai": XiongmaiWeb, "mikrotik": MikrotikWeb,
       "nginx": NginxWeb}
