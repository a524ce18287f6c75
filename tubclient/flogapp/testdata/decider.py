"""A Foolscap 21.7 tub that decides duplicate connections, with a logport.

Unmodified Foolscap: it listens, offers an echo object, and publishes its
process's log events on a logport. With --separate-logport a second tub of
the same process serves the logport, as a Tahoe-LAFS node runs it; the
logger is per process, so that logport still carries the deciding tub's
negotiations.

stdout: one JSON object per line; the first is
  {"event": "ready", "tubid", "incarnation", "furl", "logport_furl",
   "logport_tubid", "pid"}; {"event": "unsubscribed"} whenever a
subscriber calls unsubscribe().
stdin commands, each answered with {"event": "ok", "cmd", ...}:
  noise N      log N NOISY events (ends an incident's trailing window)
  incidents    list the finished incident files ("files")
  quit         stop the reactor (FLOGFILE is closed on shutdown)
Closing stdin quits too.
"""

import argparse
import glob
import json
import os
import sys

from twisted.internet import reactor, stdio
from twisted.protocols import basic

from foolscap.api import Referenceable, Tub
from foolscap.logging import log, publish


def emit(event, **kw):
    kw["event"] = event
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


class Echo(Referenceable):
    def remote_echo(self, x):
        return x


def observe_unsubscribe():
    # Reported, not changed: the subscriber's unsubscribe() still runs.
    original = publish.Subscription.remote_unsubscribe

    def remote_unsubscribe(self):
        emit("unsubscribed")
        return original(self)

    publish.Subscription.remote_unsubscribe = remote_unsubscribe


def listening_tub(pem=None):
    tub = Tub(certFile=pem) if pem else Tub()
    tub.startService()
    reactor.addSystemEventTrigger("before", "shutdown", tub.stopService)
    listener = tub.listenOn("tcp:0:interface=127.0.0.1")
    tub.setLocation("127.0.0.1:%d" % listener._lp.getHost().port)
    return tub


_stopping = []


def stop():
    if not _stopping:
        _stopping.append(True)
        reactor.stop()


class Commands(basic.LineReceiver):
    delimiter = b"\n"

    def __init__(self, logdir):
        self.logdir = logdir

    def lineReceived(self, line):
        verb, _, arg = line.decode("utf-8").strip().partition(" ")
        if verb == "noise":
            for i in range(int(arg)):
                log.msg(format="noise %(i)d", i=i, facility="flogapp.noise",
                        level=log.NOISY)
            emit("ok", cmd=verb)
        elif verb == "incidents":
            files = []
            if self.logdir:
                files = sorted(glob.glob(os.path.join(self.logdir, "*.flog.bz2")))
            emit("ok", cmd=verb, files=files)
        elif verb == "quit":
            emit("ok", cmd=verb)
            stop()
        elif verb:
            emit("error", cmd=verb, error="unknown command")

    def connectionLost(self, reason):
        stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pem", required=True)
    p.add_argument("--logport-furlfile", required=True)
    p.add_argument("--separate-logport", action="store_true")
    p.add_argument("--logdir", help="incident directory")
    args = p.parse_args()

    if args.logdir:
        log.setLogDir(args.logdir)
    observe_unsubscribe()
    tub = listening_tub(args.pem)
    furl = tub.registerReference(Echo(), name="echo")
    logtub = listening_tub() if args.separate_logport else tub
    logtub.setOption("logport-furlfile", args.logport_furlfile)
    emit("ready", tubid=tub.getTubID(), incarnation=tub.getIncarnationString(),
         furl=furl, logport_furl=logtub.getLogPortFURL(),
         logport_tubid=logtub.getTubID(), pid=os.getpid())
    stdio.StandardIO(Commands(args.logdir))
    reactor.run()


if __name__ == "__main__":
    main()
