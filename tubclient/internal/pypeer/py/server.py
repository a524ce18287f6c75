"""A Foolscap tub serving an echo object, reporting what it sees as JSON."""

import argparse

from twisted.internet import reactor
from twisted.python.failure import Failure

from foolscap.api import Referenceable

import peerlib
from peerlib import emit


class Echo(Referenceable):
    def __init__(self, label):
        self.label = label

    def _called(self, method, *args):
        emit("call", object=self.label, method=method, args=list(args))

    def remote_echo(self, x):
        self._called("echo", x)
        return x

    def remote_ping(self):
        self._called("ping")
        return "pong"

    def remote_fail(self):
        self._called("fail")
        raise ValueError("boom")

    def remote_ref(self):
        self._called("ref")
        return Echo("ref")

    def remote_callback(self, observer, x):
        # The observer pattern: call back the caller's object over the same
        # connection, and answer only once it has answered.
        self._called("callback", x)
        d = observer.callRemote("notify", x)
        d.addCallback(lambda answer: ["called back", answer])
        return d

    def remote_notify_only(self, observer, x):
        # A fire-and-forget call back, answered at once.
        self._called("notify_only", x)
        observer.callRemoteOnly("notify", x)
        return "sent"

    def remote_interface_of(self, ref):
        # The RemoteInterface name the reference arrived with.
        self._called("interface_of")
        return ref.tracker.interfaceName


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    # Another address lets a client in another network namespace reach it.
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--pem", required=True)
    p.add_argument("--handle-old", type=float)
    p.add_argument("--keepalive", type=float)
    p.add_argument("--disconnect", type=float)
    p.add_argument("--swissnum", default="echo")
    args = p.parse_args()

    tub = peerlib.ObservedTub(certFile=args.pem)
    peerlib.set_timing(tub, args.handle_old, args.keepalive, args.disconnect)
    tub.startService()
    reactor.addSystemEventTrigger("before", "shutdown", tub.stopService)

    # A running tub starts the listener at once, so the port is known now.
    listener = tub.listenOn("tcp:%d:interface=%s" % (args.port, args.host))
    port = listener._lp.getHost().port
    tub.setLocation("%s:%d" % (args.host, port))
    furl = tub.registerReference(Echo("root"), name=args.swissnum)
    emit("furl", furl=furl, tubid=tub.tubID,
         incarnation=tub.getIncarnationString(), port=port)

    def command(text):
        verb = text.split(None, 1)[0]
        if verb == "status":
            emit("status", cmd=verb, **tub.status())
        elif verb == "drop":
            n = tub.drop_all(Failure(ConnectionError("dropped by driver")))
            emit("dropped", cmd=verb, count=n)
        elif verb == "quit":
            emit("bye", cmd=verb)
            peerlib.stop()
        else:
            emit("error", cmd=verb, error="unknown command %r" % verb)

    peerlib.listen_stdin(command)
    reactor.run()


if __name__ == "__main__":
    main()
