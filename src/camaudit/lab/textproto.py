"""Line-oriented login services of embedded devices: busybox telnetd + login, and an FTP server
(RFC 959 / RFC 2428 replies as vsftpd words them, anonymous login as configured)."""

from __future__ import annotations

import asyncio
import contextlib

from camaudit.lab.auth import Gate

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
ECHO, SGA, NAWS = 1, 3, 31
IDLE = 60.0
MAX_LINE = 1024


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


class TelnetSession:
    """busybox telnetd: IAC negotiation first, then busybox login's prompts."""

    NEGOTIATION = bytes([IAC, DO, ECHO, IAC, DO, NAWS, IAC, WILL, ECHO, IAC, WILL, SGA])

    def __init__(self, gate: Gate, hostname: str, busybox: str) -> None:
        self.gate = gate
        self.hostname = hostname
        self.busybox = busybox

    async def read_line(self, reader: asyncio.StreamReader) -> str | None:
        """A line with telnet commands removed (IAC, DO/DONT/WILL/WONT x, SB ... SE)."""
        out = bytearray()
        state = 0
        while len(out) < MAX_LINE:
            b = await reader.read(1)
            if not b:
                return None
            c = b[0]
            if state == 1:  # after IAC
                state = {DO: 2, DONT: 2, WILL: 2, WONT: 2, SB: 3}.get(c, 0)
                if c == IAC:
                    out.append(IAC)
                continue
            if state == 2:  # option byte
                state = 0
                continue
            if state == 3:  # inside subnegotiation
                state = 4 if c == IAC else 3
                continue
            if state == 4:
                state = 0 if c == SE else 3
                continue
            if c == IAC:
                state = 1
            elif c in (10, 13):
                if c == 13:  # swallow the LF or NUL that follows CR
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(reader.read(1), 0.05)
                return out.decode("latin-1")
            else:
                out.append(c)
        return out.decode("latin-1")

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        source = (writer.get_extra_info("peername") or ("", 0))[0]
        try:
            writer.write(self.NEGOTIATION)
            for _ in range(3):  # busybox login gives three tries, then the connection closes
                writer.write(f"\r\n{self.hostname} login: ".encode())
                await writer.drain()
                user = await asyncio.wait_for(self.read_line(reader), IDLE)
                if user is None:
                    return
                if not user.strip():
                    continue
                writer.write(b"Password: ")
                await writer.drain()
                pw = await asyncio.wait_for(self.read_line(reader), IDLE)
                if pw is None:
                    return
                if self.gate.check("telnet", source, user.strip(), pw) == "success":
                    await self.shell(reader, writer)
                    return
                await asyncio.sleep(0.2)
                writer.write(b"\r\nLogin incorrect")
            await writer.drain()
        except (ConnectionError, asyncio.TimeoutError):
            return
        finally:
            await _close(writer)

    async def shell(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(f"\r\n\r\n{self.busybox} built-in shell (ash)\r\n"
                     "Enter 'help' for a list of built-in commands.\r\n\r\n# ".encode())
        await writer.drain()
        while True:
            line = await asyncio.wait_for(self.read_line(reader), IDLE)
            if line is None or line.strip() in ("exit", "logout"):
                return
            cmd = line.strip().split(" ")[0]
            if cmd:
                writer.write(f"\r\n-sh: {cmd}: not found".encode())
            writer.write(b"\r\n# ")
            await writer.drain()


class FtpSession:
    """Control connection with passive-mode LIST/NLST over a data connection bound to the
    device's own address."""

    def __init__(self, gate: Gate, banner: str, anonymous: bool, files: tuple[str, ...]) -> None:
        self.gate = gate
        self.banner = banner
        self.anonymous = anonymous
        self.files = files

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        source = (writer.get_extra_info("peername") or ("", 0))[0]
        local = (writer.get_extra_info("sockname") or ("", 0))[0]
        user: str | None = None
        logged_in = False
        pasv: asyncio.Server | None = None
        data_conn: asyncio.Future[asyncio.StreamWriter] | None = None

        async def send(line: str) -> None:
            writer.write((line + "\r\n").encode())
            await writer.drain()

        try:
            await send(f"220 {self.banner}")
            for _ in range(500):
                raw = await asyncio.wait_for(reader.readline(), IDLE)
                if not raw:
                    return
                cmd, _, arg = raw.decode("latin-1").strip().partition(" ")
                cmd = cmd.upper()
                if cmd == "USER":
                    user, logged_in = arg, False
                    await send("331 Please specify the password.")
                elif cmd == "PASS":
                    if user is None:
                        await send("503 Login with USER first.")
                        continue
                    if user.lower() in ("anonymous", "ftp"):
                        ok = self.anonymous
                        self.gate.recorder.record(self.gate.address, "ftp", user,
                                                  "success" if ok else "failure")
                    else:
                        ok = self.gate.check("ftp", source, user, arg) == "success"
                    if ok:
                        logged_in = True
                        await send("230 Login successful.")
                    else:
                        await asyncio.sleep(0.2)
                        await send("530 Login incorrect.")
                elif cmd == "QUIT":
                    await send("221 Goodbye.")
                    return
                elif cmd in ("FEAT",):
                    await send("211-Features:\r\n EPSV\r\n PASV\r\n SIZE\r\n UTF8\r\n211 End")
                elif cmd == "SYST":
                    await send("215 UNIX Type: L8")
                elif cmd == "NOOP":
                    await send("200 NOOP ok.")
                elif not logged_in:
                    await send("530 Please login with USER and PASS.")
                elif cmd == "PWD":
                    await send('257 "/" is the current directory')
                elif cmd == "CWD":
                    await send("250 Directory successfully changed.")
                elif cmd == "TYPE":
                    await send(f"200 Switching to {'Binary' if arg.upper().startswith('I') else 'ASCII'} mode.")
                elif cmd in ("PASV", "EPSV"):
                    if pasv is not None:
                        pasv.close()
                    loop = asyncio.get_running_loop()
                    data_conn = loop.create_future()

                    def accepted(r: asyncio.StreamReader, w: asyncio.StreamWriter,
                                 fut: asyncio.Future[asyncio.StreamWriter] = data_conn) -> None:
                        if not fut.done():
                            fut.set_result(w)
                        else:
                            w.close()

                    pasv = await asyncio.start_server(accepted, local, 0)
                    port = pasv.sockets[0].getsockname()[1]
                    if cmd == "PASV":
                        h = local.replace(".", ",")
                        await send(f"227 Entering Passive Mode ({h},{port >> 8},{port & 255}).")
                    else:
                        await send(f"229 Entering Extended Passive Mode (|||{port}|)")
                elif cmd in ("LIST", "NLST"):
                    if data_conn is None:
                        await send("425 Use PORT or PASV first.")
                        continue
                    await send("150 Here comes the directory listing.")
                    dw = await asyncio.wait_for(data_conn, 10)
                    for name in self.files:
                        line = name if cmd == "NLST" else (
                            f"-rw-r--r--    1 0        0          {len(name) * 8191:>8} Jan 01  2020 {name}")
                        dw.write((line + "\r\n").encode())
                    await dw.drain()
                    await _close(dw)
                    data_conn = None
                    if pasv is not None:
                        pasv.close()
                        pasv = None
                    await send("226 Directory send OK.")
                elif cmd in ("RETR", "STOR", "DELE", "MKD", "RMD", "RNFR", "RNTO", "PORT", "EPRT"):
                    await send("550 Permission denied.")
                else:
                    await send("500 Unknown command.")
        except (ConnectionError, asyncio.TimeoutError, ValueError):
            return
        finally:
            if pasv is not None:
                pasv.close()
            await _close(writer)


class XmConsoleSession:
    """The Sofia application console of Xiongmai/HiSilicon firmware (TCP 9527): log lines, then
    ``username:`` / ``password:`` prompts; any application (XMeye) account logs in."""

    LOG = ("[ERROR] Sofia/Net: NetIPManager: start", "[INFO] CaptureManager: channel 0 started")

    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    async def _line(self, reader: asyncio.StreamReader) -> str | None:
        data = await asyncio.wait_for(reader.readline(), IDLE)
        return data[:MAX_LINE].decode("latin-1").strip() if data else None

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        source = (writer.get_extra_info("peername") or ("", 0))[0]
        try:
            writer.write(("\r\n".join(self.LOG) + "\r\n\r\nusername:").encode())
            await writer.drain()
            user = await self._line(reader)
            if user is None:
                return
            writer.write(b"password:")
            await writer.drain()
            password = await self._line(reader)
            if password is None:
                return
            if self.gate.check("xmeye", source, user, password) != "success":
                writer.write(b"\r\nlogin failed\r\n")
                return
            writer.write(f"\r\nlogin({user}, ******, Console, address:)\r\n{user}$ ".encode())
            await writer.drain()
            await self._line(reader)
        except (ConnectionError, asyncio.TimeoutError, asyncio.LimitOverrunError, ValueError):
            return
        finally:
            with contextlib.suppress(Exception):
                await writer.drain()
            await _close(writer)
