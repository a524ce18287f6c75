"""A Foolscap 21.7 client that makes chosen offers to a master, with a
logport of its own so its side of each decision can be tailed too.

Each command dials the master again while the current connection is up
(the tub forgets its broker, as if it had judged it dead), after setting
what its hello's last-connection will say:
  connect     the first connection
  reconnect   the slave table as it is: the held seqnum (same-seqnum)
  forget      no entry: "none 0" (never-decided)
  stale       one seqnum behind the held one (older-seqnum)
  pastlife    another master incarnation (old-master-incarnation)
  future      five seqnums ahead (newer-seqnum; Foolscap calls it weird)
  newinc      a new tub incarnation (new-incarnation)
  quit
Each answers {"event": "accepted"|"rejected", "cmd", "last_connection",
...}. A rejected offer leaves the slave table and the broker as they
were. The first line is {"event": "ready", "tubid", "incarnation",
"logport_furl"}. Closing stdin quits.
"""

import argparse
import json
import sys

from twisted.internet import defer, reactor, stdio
from twisted.protocols import basic

from foolscap.api import Tub
from foolscap.referenceable import SturdyRef


def emit(event, **kw):
    kw["event"] = event
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


_stopping = []


def stop():
    if not _stopping:
        _stopping.append(True)
        reactor.stop()


class Offerer(basic.LineReceiver):
    delimiter = b"\n"

    def __init__(self, tub, furl):
        self.tub = tub
        self.furl = furl
        self.tubref = SturdyRef(furl).getTubRef()
        self.peer = self.tubref.getTubID()
        self.lock = defer.DeferredLock()
        self.held = []  # every reference got, so no broker is collected

    def lineReceived(self, line):
        verb = line.decode("utf-8").strip()
        if verb:
            self.lock.run(self.command, verb).addErrback(
                lambda f: emit("error", cmd=verb, error=str(f.value)))

    def connectionLost(self, reason):
        stop()

    def command(self, verb):
        table = self.tub.slave_table
        entry = table.get(self.peer)
        if verb == "connect":
            return self.offer(verb, entry, pop_broker=False)
        if verb == "reconnect":
            return self.offer(verb, entry)
        if verb == "forget":
            table.pop(self.peer, None)
            return self.offer(verb, entry)
        if verb == "stale":
            table[self.peer] = (entry[0], str(int(entry[1]) - 1))
            return self.offer(verb, entry)
        if verb == "future":
            table[self.peer] = (entry[0], str(int(entry[1]) + 5))
            return self.offer(verb, entry)
        if verb == "pastlife":
            table[self.peer] = ("0123456789abcdef", entry[1])
            return self.offer(verb, entry)
        if verb == "newinc":
            self.tub.make_incarnation()
            return self.offer(verb, entry)
        if verb == "quit":
            emit("ok", cmd=verb)
            stop()
            return None
        emit("error", cmd=verb, error="unknown command")
        return None

    def offer(self, verb, saved, pop_broker=True):
        offered = "%s %s" % self.tub.slave_table.get(self.peer, ("none", 0))
        old = self.tub.brokers.pop(self.tubref, None) if pop_broker else None
        d = self.tub.getReference(self.furl)

        def accepted(rref):
            self.held.append(rref)
            current = "%s %s" % self.tub.slave_table[self.peer]
            emit("accepted", cmd=verb, last_connection=offered,
                 current_connection=current,
                 incarnation=self.tub.getIncarnationString())

        def rejected(f):
            if saved is None:
                self.tub.slave_table.pop(self.peer, None)
            else:
                self.tub.slave_table[self.peer] = saved
            if (old is not None and not old.disconnected
                    and self.tubref not in self.tub.brokers):
                self.tub.brokers[self.tubref] = old
            emit("rejected", cmd=verb, last_connection=offered,
                 error=f.getErrorMessage(),
                 incarnation=self.tub.getIncarnationString())

        d.addCallbacks(accepted, rejected)
        return d


def main():
    p = argparse.ArgumentParser()
    p.add_argument("furl")
    p.add_argument("--pem", required=True)
    p.add_argument("--logport-furlfile", required=True)
    args = p.parse_args()

    tub = Tub(certFile=args.pem)
    tub.startService()
    reactor.addSystemEventTrigger("before", "shutdown", tub.stopService)
    # The logport needs a location; the master is never dialed back.
    listener = tub.listenOn("tcp:0:interface=127.0.0.1")
    tub.setLocation("127.0.0.1:%d" % listener._lp.getHost().port)
    tub.setOption("logport-furlfile", args.logport_furlfile)
    emit("ready", tubid=tub.getTubID(), incarnation=tub.getIncarnationString(),
         logport_furl=tub.getLogPortFURL())
    stdio.StandardIO(Offerer(tub, args.furl))
    reactor.run()


if __name__ == "__main__":
    main()
