"""A Foolscap client tub driven over stdin, reporting as JSON lines.

Besides calls it can force fresh connections to the same tub while the
current one is still up, so a peer acting as master has to judge a
duplicate offer: "reconnect" carries the real last-connection, "forget"
carries "none 0", "newinc" comes from a new incarnation.
"""

import argparse
import json
import sys

from twisted.internet import defer, reactor
from twisted.python.failure import Failure

from foolscap.api import Referenceable
from foolscap.referenceable import SturdyRef

import peerlib
from peerlib import emit

REMOTE_PREFIX = "Banana negotiation failed: "


def error_fields(f):
    text = f.getErrorMessage()
    fields = {"error": text, "type": str(getattr(f.type, "__name__", f.type))}
    if text.startswith(REMOTE_PREFIX):
        fields["error"] = text[len(REMOTE_PREFIX):]
        fields["detail"] = text
    return fields


class Notifier(Referenceable):
    """What a server may call back: notify(x) answers ["notified", x]."""

    def remote_notify(self, x):
        emit("notified", value=x)
        return ["notified", x]


class Client(object):
    def __init__(self, tub, furl, hold):
        self.tub = tub
        self.furl = furl
        self.hold = hold
        self.tubref = SturdyRef(furl).getTubRef()
        self.peer = self.tubref.getTubID()
        self.rref = None
        self.lock = defer.DeferredLock()
        self.exit_code = 0

    def offered(self):
        # What this tub's next hello will carry as last-connection.
        return "%s %s" % self.tub.slave_table.get(self.peer, ("none", 0))

    def current(self):
        if peerlib.is_master(self.tub.tubID, self.peer):
            seqnum = self.tub.master_table.get(self.peer)
            if seqnum is None:
                return None
            return "%s %d" % (self.tub.getIncarnationString(), seqnum)
        record = self.tub.slave_table.get(self.peer)
        return " ".join(str(p) for p in record) if record else None

    def attach(self, rref, offered):
        broker = rref.tracker.broker
        fields = {
            "peer": self.peer,
            "tubid": self.tub.tubID,
            "incarnation": self.tub.getIncarnationString(),
            "master": peerlib.is_master(self.tub.tubID, self.peer),
            "last_connection": offered,
            "current_connection": self.current(),
            "local": getattr(broker, "pypeer_local", None),
            "remote": getattr(broker, "pypeer_remote", None),
        }
        self.rref = rref
        rref.notifyOnDisconnect(self.lost, rref, fields["local"])
        return fields

    def lost(self, rref, local):
        if self.rref is rref:
            self.rref = None
        emit("disconnected", peer=self.peer, local=local)

    def connect(self):
        offered = self.offered()
        d = self.tub.getReference(self.furl)
        d.addCallback(self.attach, offered)
        return d

    def call(self, method, args, cmd):
        if self.rref is None:
            emit("error", cmd=cmd, method=method, error="not connected")
            return defer.succeed(None)
        d = self.rref.callRemote(method, *args)

        def ok(value):
            emit("result", cmd=cmd, method=method, value=value)

        def bad(f):
            emit("error", cmd=cmd, method=method, **error_fields(f))
            return f

        d.addCallbacks(ok, bad)
        return d

    def pulse(self, interval):
        """Call echo every interval seconds, keeping count: a well-behaved
        client whose service is watched while others misbehave."""
        stats = self.pulse_stats = {"calls": 0, "ok": 0, "failed": 0, "latencies": []}
        self.pulse_pending = set()

        def one():
            stats["calls"] += 1
            if self.rref is None:
                stats["failed"] += 1
                return
            start = reactor.seconds()
            d = self.rref.callRemote("echo", stats["calls"])
            self.pulse_pending.add(d)

            def ok(_):
                stats["ok"] += 1
                stats["latencies"].append(reactor.seconds() - start)

            def bad(f):
                stats["failed"] += 1

            def settled(_):
                self.pulse_pending.discard(d)

            d.addCallbacks(ok, bad)
            d.addBoth(settled)

        from twisted.internet.task import LoopingCall
        self.pulse_loop = LoopingCall(one)
        self.pulse_loop.start(interval)

    @defer.inlineCallbacks
    def report_pulse(self, cmd, grace=5.0):
        """Stop pulsing, give the calls in flight up to grace seconds to be
        answered, then report: what is still outstanding was really lost."""
        stats = getattr(self, "pulse_stats", None)
        if stats is None:
            emit("error", cmd=cmd, error="no pulse running")
            return
        if self.pulse_loop.running:
            self.pulse_loop.stop()
        deadline = reactor.seconds() + grace
        while self.pulse_pending and reactor.seconds() < deadline:
            pending = list(self.pulse_pending)
            timer = defer.Deferred()
            call = reactor.callLater(max(0, deadline - reactor.seconds()), timer.callback, None)
            yield defer.DeferredList(pending + [timer], fireOnOneCallback=True, consumeErrors=True)
            if call.active():
                call.cancel()
        lat = sorted(stats["latencies"])
        p99 = lat[int((len(lat) - 1) * 0.99)] if lat else 0
        emit("pulse", cmd=cmd, calls=stats["calls"], ok=stats["ok"], failed=stats["failed"],
             outstanding=stats["calls"] - stats["ok"] - stats["failed"],
             max_ms=round(1000 * (lat[-1] if lat else 0), 1), p99_ms=round(1000 * p99, 1))

    def reconnect(self, cmd, **extra):
        # Hiding the live broker makes the tub dial again as if it had judged
        # that connection dead; the old socket stays up until a master drops it.
        old = self.tub.brokers.pop(self.tubref, None)
        d = self.connect()

        def ok(fields):
            fields.update(extra)
            emit("reconnected", cmd=cmd, **fields)

        def bad(f):
            if (old is not None and not old.disconnected
                    and self.tubref not in self.tub.brokers):
                self.tub.brokers[self.tubref] = old
            emit("rejected", cmd=cmd, peer=self.peer, **dict(extra, **error_fields(f)))

        d.addCallbacks(ok, bad)
        return d

    def command(self, text):
        self.lock.run(self.run_command, text).addErrback(lambda f: None)

    def run_command(self, text):
        parts = text.split(None, 2)
        verb = parts[0]
        if verb == "call":
            if len(parts) < 2:
                emit("error", cmd=verb, error="usage: call METHOD [ARGS_JSON]")
                return None
            try:
                args = json.loads(parts[2]) if len(parts) > 2 else []
            except ValueError as e:
                emit("error", cmd=verb, error="bad ARGS_JSON: %s" % e)
                return None
            if not isinstance(args, list):
                emit("error", cmd=verb, error="ARGS_JSON must be a JSON array")
                return None
            return self.call(parts[1], args, verb)
        if verb == "callback":
            # call METHOD(notifier, ARG): the server calls notify back on
            # this connection before it answers.
            if len(parts) < 3:
                emit("error", cmd=verb, error="usage: callback METHOD ARG_JSON")
                return None
            return self.call(parts[1], [Notifier(), json.loads(parts[2])], verb)
        if verb == "pulse":
            self.pulse(float(parts[1]) if len(parts) > 1 else 0.2)
            emit("pulsing", cmd=verb)
            return None
        if verb == "pulse-stats":
            return self.report_pulse(verb)
        if verb == "reconnect":
            return self.reconnect(verb)
        if verb == "forget":
            self.tub.slave_table.pop(self.peer, None)
            return self.reconnect(verb)
        if verb == "newinc":
            before = self.tub.getIncarnationString()
            self.tub.make_incarnation()
            return self.reconnect(verb, previous_incarnation=before)
        if verb == "drop":
            n = self.tub.drop_all(Failure(ConnectionError("dropped by driver")))
            emit("dropped", cmd=verb, count=n)
            return None
        if verb == "status":
            emit("status", cmd=verb, **self.tub.status())
            return None
        if verb == "quit":
            emit("bye", cmd=verb)
            peerlib.stop()
            return None
        emit("error", cmd=verb, error="unknown command %r" % verb)
        return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("furl")
    p.add_argument("--pem", required=True)
    p.add_argument("--call", nargs="+", metavar=("METHOD", "ARG"))
    p.add_argument("--hold", action="store_true")
    p.add_argument("--reconnector", action="store_true")
    p.add_argument("--handle-old", type=float)
    p.add_argument("--keepalive", type=float)
    p.add_argument("--disconnect", type=float)
    p.add_argument("--connect-timeout", type=float)
    args = p.parse_args()

    tub = peerlib.ObservedTub(certFile=args.pem)
    peerlib.set_timing(tub, args.handle_old, args.keepalive, args.disconnect)
    if args.connect_timeout:
        # Foolscap's own knob for its 120 s outbound connection timeout;
        # the protocol is untouched, only the wait before retrying shrinks.
        tub._test_options = dict(tub._test_options, connect_timeout=args.connect_timeout)
    tub.startService()
    reactor.addSystemEventTrigger("before", "shutdown", tub.stopService)
    emit("tub", tubid=tub.tubID, incarnation=tub.getIncarnationString())

    client = Client(tub, args.furl, args.hold or args.reconnector)
    first_call = None
    if args.call:
        first_call = (args.call[0], [peerlib.parse_arg(a) for a in args.call[1:]])

    def after_connect(fields):
        emit("connected", **fields)
        if first_call is None:
            return None
        return client.call(first_call[0], first_call[1], "initial")

    def finish(result):
        if isinstance(result, Failure):
            client.exit_code = 1
        if not client.hold:
            peerlib.stop()

    if args.reconnector:
        state = {"calls": 0}

        def on_connect(rref):
            fields = client.attach(rref, None)
            fields["reconnector"] = True
            emit("connected", **fields)
            if first_call is not None and state["calls"] == 0:
                state["calls"] += 1
                client.call(first_call[0], first_call[1], "initial").addErrback(
                    lambda f: None)

        tub.connectTo(args.furl, on_connect)
    else:
        d = client.connect()

        def failed(f):
            emit("connect_failed", **error_fields(f))
            return f

        d.addCallbacks(after_connect, failed)
        d.addBoth(finish)

    peerlib.listen_stdin(client.command)
    reactor.run()
    sys.exit(client.exit_code)


if __name__ == "__main__":
    main()
