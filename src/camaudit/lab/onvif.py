"""ONVIF device and media services (SOAP 1.2, tds/trt/tt namespaces) with WS-UsernameToken
PasswordDigest checking, as the ONVIF Core and Media specifications describe them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from camaudit.lab.auth import Gate, wsse_digest
from camaudit.lab.wire import Request, Response

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
TT = "http://www.onvif.org/ver10/schema"
CONTENT_TYPE = "application/soap+xml; charset=utf-8"
PRE_AUTH = {"GetSystemDateAndTime", "GetServices", "GetWsdlUrl", "GetServiceCapabilities"}

ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<env:Envelope xmlns:env="{SOAP}" xmlns:tds="{TDS}" xmlns:trt="{TRT}" xmlns:tt="{TT}" '
    'xmlns:ter="http://www.onvif.org/ver10/error" '
    'xmlns:xs="http://www.w3.org/2001/XMLSchema">'
    "<env:Body>{body}</env:Body></env:Envelope>"
)


@dataclass
class OnvifInfo:
    manufacturer: str
    model: str
    firmware: str
    serial: str
    hardware_id: str
    scopes: tuple[str, ...]
    rtsp_uri_path: str  # e.g. /cam/realmonitor?channel=1&subtype=0


def fault(code: str, subcode: str, reason: str, status: int = 400) -> Response:
    body = (f"<env:Fault><env:Code><env:Value>env:{code}</env:Value><env:Subcode>"
            f"<env:Value>{subcode}</env:Value></env:Subcode></env:Code>"
            f'<env:Reason><env:Text xml:lang="en">{escape(reason)}</env:Text></env:Reason></env:Fault>')
    return Response(status, ENVELOPE.format(body=body).encode(), content_type=CONTENT_TYPE)


def _ok(body: str) -> Response:
    return Response(200, ENVELOPE.format(body=body).encode(), content_type=CONTENT_TYPE)


def _b(v: bool) -> str:
    return "true" if v else "false"


class OnvifService:
    """Answers SOAP requests posted to /onvif/* on one device's web port."""

    def __init__(self, info: OnvifInfo, gate: Gate, *, anonymous: bool,
                 clock_offset: float = 0.0) -> None:
        self.info = info
        self.gate = gate
        self.anonymous = anonymous
        self.clock_offset = dt.timedelta(seconds=clock_offset)  # the device clock's error

    def _xaddr(self, req: Request, path: str) -> str:
        scheme = "https" if req.tls else "http"
        host, port = req.local
        default = 443 if req.tls else 80
        return f"{scheme}://{host}{'' if port == default else f':{port}'}{path}"

    def _authorized(self, header: Element | None, source: str) -> str:
        """success | failure | locked | none."""
        token = header.find(f"{{{WSSE}}}Security/{{{WSSE}}}UsernameToken") if header is not None else None
        if token is None:
            return "none"
        user = (token.findtext(f"{{{WSSE}}}Username") or "").strip()
        pw_el = token.find(f"{{{WSSE}}}Password")
        nonce = (token.findtext(f"{{{WSSE}}}Nonce") or "").strip()
        created = (token.findtext(f"{{{WSU}}}Created") or "").strip()
        sent = (pw_el.text or "").strip() if pw_el is not None else ""
        digest = pw_el is not None and pw_el.get("Type", "").endswith("#PasswordDigest")

        def verify(password: str) -> bool:
            if digest:
                try:
                    return wsse_digest(nonce, created, password) == sent
                except ValueError:
                    return False
            return password == sent

        return self.gate.check("onvif", source, user, None, verify=verify)

    async def handle(self, req: Request) -> Response:
        if req.method != "POST":
            return Response(405, b"", headers=[("Allow", "POST")])
        try:
            root = DET.fromstring(req.body, forbid_dtd=True)
        except (DefusedXmlException, SyntaxError, ValueError):
            return fault("Sender", "ter:WellFormed", "The SOAP message is not well formed")
        body = root.find(f"{{{SOAP}}}Body")
        if root.tag != f"{{{SOAP}}}Envelope" or body is None or len(body) == 0:
            return fault("Sender", "ter:WellFormed", "No SOAP 1.2 Envelope/Body")
        op_el = body[0]
        op = op_el.tag.rsplit("}", 1)[-1]
        if not self.anonymous and op not in PRE_AUTH:
            outcome = self._authorized(root.find(f"{{{SOAP}}}Header"), req.source)
            if outcome == "locked":
                return fault("Sender", "ter:NotAuthorized",
                             "Sender not Authorized: too many failed logins, source address locked")
            if outcome != "success":
                return fault("Sender", "ter:NotAuthorized", "Sender not Authorized")
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            return fault("Receiver", "ter:ActionNotSupported", f"{op} is not supported", 500)
        return _ok(handler(req, op_el))

    # --- device service -----------------------------------------------------------------
    def op_GetSystemDateAndTime(self, req: Request, el: Element) -> str:
        now = dt.datetime.now(dt.timezone.utc) + self.clock_offset
        local = now + dt.timedelta(hours=7)

        def stamp(tag: str, t: dt.datetime) -> str:
            return (f"<tt:{tag}><tt:Time><tt:Hour>{t.hour}</tt:Hour><tt:Minute>{t.minute}</tt:Minute>"
                    f"<tt:Second>{t.second}</tt:Second></tt:Time><tt:Date><tt:Year>{t.year}</tt:Year>"
                    f"<tt:Month>{t.month}</tt:Month><tt:Day>{t.day}</tt:Day></tt:Date></tt:{tag}>")

        return ("<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
                "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
                "<tt:TimeZone><tt:TZ>ICT-7</tt:TZ></tt:TimeZone>"
                f"{stamp('UTCDateTime', now)}{stamp('LocalDateTime', local)}"
                "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>")

    def op_GetDeviceInformation(self, req: Request, el: Element) -> str:
        i = self.info
        return ("<tds:GetDeviceInformationResponse>"
                f"<tds:Manufacturer>{escape(i.manufacturer)}</tds:Manufacturer>"
                f"<tds:Model>{escape(i.model)}</tds:Model>"
                f"<tds:FirmwareVersion>{escape(i.firmware)}</tds:FirmwareVersion>"
                f"<tds:SerialNumber>{escape(i.serial)}</tds:SerialNumber>"
                f"<tds:HardwareId>{escape(i.hardware_id)}</tds:HardwareId>"
                "</tds:GetDeviceInformationResponse>")

    def op_GetScopes(self, req: Request, el: Element) -> str:
        items = "".join(f"<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>{escape(s)}"
                        "</tt:ScopeItem></tds:Scopes>" for s in self.info.scopes)
        return f"<tds:GetScopesResponse>{items}</tds:GetScopesResponse>"

    def op_GetCapabilities(self, req: Request, el: Element) -> str:
        dev, media = self._xaddr(req, "/onvif/device_service"), self._xaddr(req, "/onvif/Media")
        return (
            "<tds:GetCapabilitiesResponse><tds:Capabilities>"
            f"<tt:Device><tt:XAddr>{dev}</tt:XAddr>"
            "<tt:Network><tt:IPFilter>false</tt:IPFilter><tt:ZeroConfiguration>false</tt:ZeroConfiguration>"
            "<tt:IPVersion6>false</tt:IPVersion6><tt:DynDNS>false</tt:DynDNS></tt:Network>"
            "<tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve><tt:DiscoveryBye>true</tt:DiscoveryBye>"
            "<tt:RemoteDiscovery>false</tt:RemoteDiscovery><tt:SystemBackup>false</tt:SystemBackup>"
            "<tt:SystemLogging>true</tt:SystemLogging><tt:FirmwareUpgrade>true</tt:FirmwareUpgrade>"
            "<tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tt:SupportedVersions>"
            "</tt:System>"
            "<tt:IO><tt:InputConnectors>0</tt:InputConnectors><tt:RelayOutputs>0</tt:RelayOutputs></tt:IO>"
            "<tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>" + _b(req.tls) + "</tt:TLS1.2>"
            "<tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration>"
            "<tt:AccessPolicyConfig>false</tt:AccessPolicyConfig><tt:X.509Token>false</tt:X.509Token>"
            "<tt:SAMLToken>false</tt:SAMLToken><tt:KerberosToken>false</tt:KerberosToken>"
            "<tt:RELToken>false</tt:RELToken></tt:Security></tt:Device>"
            f"<tt:Media><tt:XAddr>{media}</tt:XAddr><tt:StreamingCapabilities>"
            "<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>"
            "<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
            "</tds:Capabilities></tds:GetCapabilitiesResponse>")

    def op_GetServices(self, req: Request, el: Element) -> str:
        svc = "".join(
            f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{self._xaddr(req, path)}"
            f"</tds:XAddr><tds:Version><tt:Major>{major}</tt:Major><tt:Minor>{minor}</tt:Minor>"
            "</tds:Version></tds:Service>"
            for ns, path, major, minor in ((TDS, "/onvif/device_service", 2, 60),
                                           (TRT, "/onvif/Media", 2, 60)))
        return f"<tds:GetServicesResponse>{svc}</tds:GetServicesResponse>"

    # --- media service ------------------------------------------------------------------
    def op_GetProfiles(self, req: Request, el: Element) -> str:
        return (
            '<trt:GetProfilesResponse><trt:Profiles token="Profile_1" fixed="true">'
            "<tt:Name>mainStream</tt:Name>"
            '<tt:VideoSourceConfiguration token="VideoSourceConfig_1"><tt:Name>VideoSourceConfig_1</tt:Name>'
            "<tt:UseCount>1</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken>"
            '<tt:Bounds x="0" y="0" width="1920" height="1080"/></tt:VideoSourceConfiguration>'
            '<tt:VideoEncoderConfiguration token="VideoEncoderConfig_1"><tt:Name>VideoEncoderConfig_1</tt:Name>'
            "<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>"
            "<tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution>"
            "<tt:Quality>4</tt:Quality><tt:RateControl><tt:FrameRateLimit>25</tt:FrameRateLimit>"
            "<tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>4096</tt:BitrateLimit>"
            "</tt:RateControl><tt:H264><tt:GovLength>50</tt:GovLength><tt:H264Profile>Main</tt:H264Profile>"
            "</tt:H264><tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0"
            "</tt:IPv4Address></tt:Address><tt:Port>0</tt:Port><tt:TTL>0</tt:TTL>"
            "<tt:AutoStart>false</tt:AutoStart></tt:Multicast><tt:SessionTimeout>PT60S</tt:SessionTimeout>"
            "</tt:VideoEncoderConfiguration></trt:Profiles></trt:GetProfilesResponse>")

    def op_GetStreamUri(self, req: Request, el: Element) -> str:
        host = req.local[0]
        uri = f"rtsp://{host}:554{self.info.rtsp_uri_path}"
        return ("<trt:GetStreamUriResponse><trt:MediaUri>"
                f"<tt:Uri>{escape(uri)}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
                "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT60S</tt:Timeout>"
                "</trt:MediaUri></trt:GetStreamUriResponse>")
