"""A Foolscap 21.7 tub for flog tests: it listens, publishes its logport,
and logs through Foolscap's own logger, so FLOGFILE, the logport and the
incident reporter record real negotiation events.

stdout: one JSON object per line; the first is
  {"event": "ready", "tubid", "incarnation", "furl", "logport_furl", "port"}.
stdin commands (one per line), each answered with {"event": "ok", "cmd"}:
  handle-old SECONDS   set handle-old-duplicate-connections (-1 unsets it)
  mark TEXT            log TEXT at OPERATIONAL, facility "flogtest.mark"
  noise N              log N NOISY events (ends an incident's trailing window)
  values               log one event carrying awkward values
  incidents            list the finished incident files
  quit                 stop the reactor (FLOGFILE is closed on shutdown)
Closing stdin quits too.
"""

import argparse
import glob
import json
import os
import sys

from twisted.internet import reactor, stdio
from twisted.protocols import basic

from foolscap.api import Tub, Referenceable
from foolscap.logging import log


def emit(event, **kw):
    kw["event"] = event
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


class Echo(Referenceable):
    def remote_echo(self, x):
        return x


class Commands(basic.LineReceiver):
    delimiter = b"\n"

    def __init__(self, tub, logdir):
        self.tub = tub
        self.logdir = logdir

    def lineReceived(self, line):
        text = line.decode("utf-8").strip()
        if not text:
            return
        verb, _, arg = text.partition(" ")
        if verb == "handle-old":
            seconds = int(arg)
            if seconds < 0:
                self.tub._handle_old_duplicate_connections = False
            else:
                self.tub.setOption("handle-old-duplicate-connections", seconds)
        elif verb == "mark":
            log.msg(arg, facility="flogtest.mark", level=log.OPERATIONAL)
        elif verb == "noise":
            for i in range(int(arg)):
                log.msg(format="noise %(i)d", i=i, facility="flogtest.noise",
                        level=log.NOISY)
        elif verb == "values":
            log.msg(format="values big=%(big)d nan=%(nan)s inf=%(inf)s "
                    "raw=%(raw)r set=%(s)s",
                    big=2**80, nan=float("nan"), inf=float("-inf"),
                    raw=b"\x00\xffbytes", s={1},
                    facility="flogtest.values", level=log.OPERATIONAL)
        elif verb == "incidents":
            files = []
            if self.logdir:
                files = sorted(glob.glob(os.path.join(self.logdir,
                                                      "*.flog.bz2")))
            emit("incidents", cmd=verb, files=files)
            return
        elif verb == "quit":
            emit("ok", cmd=verb)
            stop()
            return
        else:
            emit("error", cmd=verb, error="unknown command")
            return
        emit("ok", cmd=verb)

    def connectionLost(self, reason):
        stop()


_stopping = []


def stop():
    # quit and the end of stdin may both ask; the reactor refuses a second.
    if not _stopping:
        _stopping.append(True)
        reactor.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True,
                   help="holds the tub's key and logport.furl")
    p.add_argument("--logdir", help="incident directory")
    p.add_argument("--handle-old", type=int)
    args = p.parse_args()

    if args.logdir:
        log.setLogDir(args.logdir)
    tub = Tub(certFile=os.path.join(args.dir, "tub.pem"))
    if args.handle_old is not None:
        tub.setOption("handle-old-duplicate-connections", args.handle_old)
    tub.startService()
    reactor.addSystemEventTrigger("before", "shutdown", tub.stopService)
    listener = tub.listenOn("tcp:0:interface=127.0.0.1")
    port = listener._lp.getHost().port
    tub.setLocation("127.0.0.1:%d" % port)
    logport_file = os.path.join(args.dir, "logport.furl")
    tub.setOption("logport-furlfile", logport_file)
    furl = tub.registerReference(Echo(), name="echo")
    emit("ready", tubid=tub.tubID, incarnation=tub.getIncarnationString(),
         furl=furl, logport_furl=tub.getLogPortFURL(), port=port)
    stdio.StandardIO(Commands(tub, args.logdir))
    reactor.run()


if __name__ == "__main__":
    main()
