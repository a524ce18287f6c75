"""A Foolscap 21.7 tub whose logport publishes as fast as Foolscap can.

"burst N" logs N events, a hundred per reactor turn, holding back while a
subscriber's queue (Foolscap keeps 2,000 per subscriber and drops the
newest beyond) is over half full, so nothing is dropped on this side and
the rate measured is what the logport and its subscriber sustain. It
answers {"event": "sent", "n", "seconds"}. The first line is
{"event": "ready", "logport_furl"}. Closing stdin quits.
"""

import argparse
import json
import sys
import time

from twisted.internet import reactor, stdio
from twisted.protocols import basic

from foolscap.api import Tub
from foolscap.logging import log, publish


def emit(event, **kw):
    kw["event"] = event
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def deepest_queue():
    # Looked at, not changed: each subscription observes the logger.
    depths = [len(o.__self__.queue) for o in log.theLogger._immediate_observers
              if isinstance(getattr(o, "__self__", None), publish.Subscription)]
    return max(depths) if depths else 0


class Commands(basic.LineReceiver):
    delimiter = b"\n"

    def lineReceived(self, line):
        verb, _, arg = line.decode("utf-8").strip().partition(" ")
        if verb == "burst":
            self.burst(int(arg), 0, time.time())

    def burst(self, n, done, start):
        if deepest_queue() > 1000:
            reactor.callLater(0.001, self.burst, n, done, start)
            return
        for i in range(done, min(done + 100, n)):
            log.msg(format="chatter %(i)d", i=i, facility="flogapp.chatter",
                    level=log.OPERATIONAL)
        done = min(done + 100, n)
        if done < n:
            reactor.callLater(0, self.burst, n, done, start)
            return
        emit("sent", n=n, seconds=time.time() - start)

    def connectionLost(self, reason):
        reactor.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--logport-furlfile", required=True)
    args = p.parse_args()
    tub = Tub()
    tub.startService()
    listener = tub.listenOn("tcp:0:interface=127.0.0.1")
    tub.setLocation("127.0.0.1:%d" % listener._lp.getHost().port)
    tub.setOption("logport-furlfile", args.logport_furlfile)
    emit("ready", logport_furl=tub.getLogPortFURL())
    stdio.StandardIO(Commands())
    reactor.run()


if __name__ == "__main__":
    main()
