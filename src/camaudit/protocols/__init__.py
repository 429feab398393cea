"""One client per protocol. Every function here treats the device as hostile:

* every await is under a deadline (``timeout`` seconds for the whole exchange, not per read, so
  a device that drips one byte a second cannot stall us),
* every read is bounded (``_net.MAX_READ``), oversized answers are cut and flagged,
* XML goes through defusedxml, nothing a device sends is evaluated,
* errors never escape as exceptions: a probe returns an ``Observation`` with ``error`` set,
  a login attempt returns ``AuthResult(AuthOutcome.ERROR, ...)``.

The contract each module keeps (``timeout`` is always a keyword argument):

    async def probe(address: str, port: int, *, timeout: float, **kw) -> list[Observation]
        Talk to the service without credentials; return what it said (one or more
        observations, e.g. one per HTTP path).  Field names: see ``camaudit.model``.

    async def try_login(address: str, port: int, username: str, password: str, *,
                        timeout: float, **kw) -> AuthResult
        One login attempt, no more.  SUCCESS / FAILURE / LOCKED / NO_AUTH / ERROR.

    async def device_info(address, port, username, password, *, timeout) -> dict[str, str]
        (vendor APIs only) authenticated facts: device.vendor, device.model,
        device.firmware, device.serial, device.mac, device.kind.

Modules: http (also https and vendor HTTP APIs: hikvision ISAPI, dahua RPC2_Login,
axis VAPIX), tls, rtsp, onvif, wsd, ssdp, telnet, ftp, ssh, snmp, vendorports
(hiksdk 8000, dvrip 37777, xmeye 34567).
"""
