"""Loopback TCP proxies the chaos runner controls: one per (component, server) link, so a
fault can cut one component off PostgreSQL or off the broker while everything else goes on.

Each proxy forwards host:listen (a loopback address) -> 127.0.0.1:upstream and has three states:
  pass       bytes flow
  reset      every open connection is aborted (both sides) and each new one is aborted as
             soon as it is accepted: the component sees its server vanish (the listening
             socket stays: a port given up could be taken meanwhile)
  blackhole  connections stay open but no byte moves either way and new connections hang
             unanswered: a silent partition; on heal the bytes flow again (unless a server
             timed the connection out meanwhile and closed its end)
All proxies run on one asyncio loop in a thread of their own; the runner calls set_state().

While the server is down, connecting to its port again and again can make the kernel choose
that very port as the source port: the socket connects to itself (TCP simultaneous open) and
holds the port, so the server cannot bind it when it restarts. An upstream connection whose
local and remote addresses are equal is closed at once.
"""
import asyncio
import threading

CHUNK = 65536


class _Link:
    """One proxied connection: the client's and the upstream's stream pairs."""

    def __init__(self, proxy):
        self.proxy = proxy
        self.writers = []
        self.tasks = []

    def abort(self):
        for t in self.tasks:
            t.cancel()
        for w in self.writers:
            try:
                w.transport.abort()
            except Exception:
                pass


class Proxy:
    def __init__(self, hub, name, host, listen_port, upstream_port):
        self.hub = hub
        self.name = name
        self.host = host
        self.listen_port = listen_port
        self.upstream_port = upstream_port
        self.state = "pass"
        self.flowing = None  # asyncio.Event, set while bytes may move
        self.server = None
        self.links = set()
        self.connections = 0  # accepted in total (for the report)

    async def start(self):
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.server = await asyncio.start_server(self._accept, self.host, self.listen_port,
                                                 reuse_address=True)

    async def _accept(self, creader, cwriter):
        self.connections += 1
        link = _Link(self)
        link.writers.append(cwriter)
        if self.state == "reset":
            link.abort()
            return
        self.links.add(link)
        try:
            await self.flowing.wait()
            if self.state == "reset":
                raise OSError("reset")
            ureader, uwriter = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            link.writers.append(uwriter)
            sock = uwriter.get_extra_info("socket")
            if sock.getsockname() == sock.getpeername():
                raise OSError("connected to itself")
        except (OSError, asyncio.CancelledError):
            link.abort()
            self.links.discard(link)
            return
        a = asyncio.ensure_future(self._pump(creader, uwriter))
        b = asyncio.ensure_future(self._pump(ureader, cwriter))
        link.tasks += [a, b]
        try:
            await asyncio.wait([a, b], return_when=asyncio.FIRST_COMPLETED)
        finally:
            link.abort()
            self.links.discard(link)

    async def _pump(self, reader, writer):
        try:
            while True:
                await self.flowing.wait()
                data = await reader.read(CHUNK)
                if not data:
                    break
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass

    async def set_state(self, state):
        if state == self.state:
            return
        if state == "pass":
            self.state = state
            self.flowing.set()
        elif state == "reset":
            self.state = state
            for link in list(self.links):
                link.abort()
            self.links.clear()
            self.flowing.set()  # connections waiting in a blackhole see the reset and end
        elif state == "blackhole":
            self.state = state
            self.flowing.clear()
        else:
            raise ValueError("proxy state must be pass, reset or blackhole: %r" % state)

    async def close(self):
        self.server.close()
        for link in list(self.links):
            link.abort()


class ProxyHub:
    """The proxies of one run, on a private event loop thread."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.proxies = {}
        self.thread = threading.Thread(target=self.loop.run_forever, name="proxies", daemon=True)
        self.thread.start()

    def _call(self, coro, timeout=30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def add(self, name, host, listen_port, upstream_port):
        p = Proxy(self, name, host, listen_port, upstream_port)
        self._call(p.start())
        self.proxies[name] = p
        return p

    def set_state(self, name, state):
        self._call(self.proxies[name].set_state(state))

    def heal_all(self):
        for name in self.proxies:
            self.set_state(name, "pass")

    def close(self):
        for p in self.proxies.values():
            try:
                self._call(p.close(), timeout=10)
            except Exception:
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
