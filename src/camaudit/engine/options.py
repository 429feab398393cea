"""Options of one scan. Plain data: stored with the scan record as given."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Camera ports swept by default: FTP, SSH, Telnet, HTTP(S) and alternates, RTSP, vendor SDK ports.
DEFAULT_PORTS: tuple[int, ...] = (
    21, 22, 23, 80, 81, 88, 443, 554, 2000, 5000, 7001, 8000, 8001, 8080, 8081, 8088, 8443,
    8554, 8899, 9000, 9527, 9530, 10554, 34567, 37777, 37778,
)
DEFAULT_UDP_PORTS: tuple[int, ...] = (161, 1900, 3702)


@dataclass
class ScanOptions:
    ports: tuple[int, ...] = DEFAULT_PORTS
    udp: bool = True  # SNMP, SSDP, WS-Discovery probes (unicast to each target)
    timeout: float = 4.0  # seconds for one whole exchange with a device
    connect_timeout: float = 1.5
    concurrency: int = 512  # connections in flight, all hosts together
    host_concurrency: int = 4  # connections in flight to one host
    rate: float = 0.0  # new connections per second, all hosts together (0 = unlimited)
    host_rate: float = 0.0  # new connections per second to one host (0 = unlimited)
    host_parallelism: int = 64  # hosts assessed at once
    checks: tuple[str, ...] | None = None  # only these check ids (None = all non-intrusive)
    intrusive: tuple[str, ...] = ()  # intrusive checks turned on by name
    snmp_communities: tuple[str, ...] = ("public", "private")
    login_spacing: float = 0.0  # seconds between two login attempts on one service
    discovery_only: bool = False
    resolve: bool = True  # look host names up in DNS (False: --no-resolve, addresses only)
    all_hosts: bool = False  # assess every host, not only those identified as video devices
    operator: str = ""  # who runs it (recorded)
    organisation: str = ""  # for whom: the agency that owns the system (report cover)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ports"] = list(self.ports)
        return d
