"""A Foolscap 21.7 tub with a logport, logging on command.

Prints {"event": "furl", "furl": ...} once its logport is up, then reads
commands from stdin: "log N" logs N events numbered 0..N-1 (each event's
"i" field), "quit" stops.
"""

import argparse
import json
import sys

from twisted.internet import reactor, stdio
from twisted.protocols.basic import LineReceiver

from foolscap.api import Tub
from foolscap.logging import log


def emit(event, **fields):
    fields["event"] = event
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


class Commands(LineReceiver):
    delimiter = b"\n"

    def lineReceived(self, line):
        parts = line.decode().split()
        if not parts:
            return
        if parts[0] == "log":
            n = int(parts[1])
            for i in range(n):
                log.msg(format="test event %(i)d of %(n)d", i=i, n=n,
                        facility="tubscope.test", level=log.OPERATIONAL)
            emit("logged", n=n)
        elif parts[0] == "quit":
            reactor.stop()

    def connectionLost(self, reason):
        if reactor.running:
            reactor.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--furlfile", required=True)
    args = p.parse_args()
    tub = Tub()
    tub.setOption("logport-furlfile", args.furlfile)
    tub.startService()
    listener = tub.listenOn("tcp:0:interface=127.0.0.1")
    tub.setLocation("127.0.0.1:%d" % listener.getPortnum())
    emit("furl", furl=tub.getLogPortFURL(), tubid=tub.getTubID())
    stdio.StandardIO(Commands())
    reactor.run()


if __name__ == "__main__":
    main()
