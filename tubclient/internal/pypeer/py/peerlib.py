"""Shared plumbing for the tubscope interop peers.

Every script speaks to its Go driver through stdout (one JSON object per
line, flushed at once) and stdin (one command per line; EOF means exit).
"""

import base64
import json
import os
import sys

from twisted.internet import reactor, stdio
from twisted.internet.error import ReactorNotRunning
from twisted.protocols.basic import LineReceiver

from foolscap import negotiate
from foolscap.api import Tub
from foolscap.referenceable import RemoteReferenceOnly, TubRef


def emit(event, **fields):
    fields = dict(fields)
    fields["event"] = event
    line = json.dumps(fields, default=jsonable, sort_keys=True)
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        # The driver is gone; nobody is left to report to.
        os._exit(0)


def jsonable(value):
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, RemoteReferenceOnly):
        try:
            return {"ref": value.tracker.getURL()}
        except Exception:
            return {"ref": repr(value)}
    return repr(value)


def parse_arg(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def address(transport, which):
    try:
        addr = getattr(transport, which)()
        return "%s:%d" % (addr.host, addr.port)
    except Exception:
        return None


def failure_text(f):
    return str(f.value) or repr(f.value)


def is_master(my_tubid, their_tubid):
    # Foolscap lets the lexicographically larger tubid decide.
    return my_tubid > their_tubid


class ObservedNegotiation(negotiate.Negotiation):
    """Reports every offer and decision this tub sees or makes."""

    def side(self):
        return "client" if self.isClient else "server"

    def log(self, *args, **kwargs):
        captured = getattr(self, "_captured", None)
        if captured is not None:
            fmt = kwargs.get("format")
            if fmt:
                try:
                    captured.append(fmt % kwargs)
                except Exception:
                    captured.append(fmt)
            elif args:
                captured.append(str(args[0]))
        return negotiate.Negotiation.log(self, *args, **kwargs)

    def evaluateNegotiationVersion1(self, offer):
        their_tubid = offer.get("my-tub-id")
        master = bool(their_tubid) and is_master(self.myTubID, their_tubid)
        existing = bool(their_tubid) and TubRef(their_tubid) in self.tub.brokers
        emit("offer", side=self.side(), peer=their_tubid,
             incarnation=offer.get("my-incarnation"),
             last_connection=offer.get("last-connection"),
             master=master, existing=existing)
        self._duplicate = None
        try:
            return negotiate.Negotiation.evaluateNegotiationVersion1(self, offer)
        except Exception as e:
            if master:
                fields = self._duplicate or {}
                emit("decision", side=self.side(), peer=their_tubid,
                     accept=False, error=str(e) or repr(e), **fields)
            raise

    def sendDecision(self, decision, params):
        # Reported here, before the broker is attached, so "decision"
        # precedes the "connection" it produces.
        fields = self._duplicate or {}
        emit("decision", side=self.side(), peer=self.theirTubRef.getTubID(),
             accept=True,
             current_connection=decision.get("current-connection"), **fields)
        return negotiate.Negotiation.sendDecision(self, decision, params)

    def compareOfferAndExisting(self, offer, existing, lp):
        self._captured = []
        try:
            accept = negotiate.Negotiation.compareOfferAndExisting(
                self, offer, existing, lp)
        finally:
            captured, self._captured = self._captured, None
        # The last line Foolscap logs names the rule that settled it.
        self._duplicate = {
            "duplicate": True,
            "rule": captured[-1] if captured else None,
            "existing_slave_ir": existing.current_slave_IR,
            "existing_seqnum": existing.current_seqnum,
        }
        return accept

    def acceptDecision(self, decision):
        dropped = self.theirTubRef in self.tub.brokers
        params = negotiate.Negotiation.acceptDecision(self, decision)
        emit("decision_received", side=self.side(),
             peer=self.theirTubRef.getTubID(),
             current_connection=decision.get("current-connection"),
             dropped_existing=dropped)
        return params

    def negotiationFailed(self):
        reason = self.failureReason
        if reason is not None:
            emit("negotiation_failed", side=self.side(),
                 error=failure_text(reason))
        return negotiate.Negotiation.negotiationFailed(self)


class ObservedTub(Tub):
    """A Tub that reports connections as they are attached and detached."""

    negotiationClass = ObservedNegotiation

    def brokerAttached(self, tubref, broker, isClient):
        Tub.brokerAttached(self, tubref, broker, isClient)
        broker.pypeer_local = address(broker.transport, "getHost")
        broker.pypeer_remote = address(broker.transport, "getPeer")
        emit("connection", peer=tubref.getTubID(),
             direction="outbound" if isClient else "inbound",
             master=is_master(self.tubID, tubref.getTubID()),
             seqnum=broker.current_seqnum, slave_ir=broker.current_slave_IR,
             local=broker.pypeer_local, remote=broker.pypeer_remote)

    def brokerDetached(self, broker, why):
        Tub.brokerDetached(self, broker, why)
        peer = broker.remote_tubref.getTubID() if broker.remote_tubref else None
        emit("disconnection", peer=peer,
             local=getattr(broker, "pypeer_local", None),
             remote=getattr(broker, "pypeer_remote", None),
             reason=failure_text(why) if why is not None else None)

    def status(self):
        brokers = []
        for tubref, b in sorted(self.brokers.items(), key=lambda kv: str(kv[0])):
            brokers.append({"peer": tubref.getTubID(),
                            "seqnum": b.current_seqnum,
                            "slave_ir": b.current_slave_IR,
                            "local": getattr(b, "pypeer_local", None),
                            "remote": getattr(b, "pypeer_remote", None)})
        return {"tubid": self.tubID,
                "incarnation": self.getIncarnationString(),
                "brokers": brokers,
                "master_table": dict(self.master_table),
                "slave_table": {k: " ".join(str(p) for p in v)
                                for k, v in self.slave_table.items()}}

    def drop_all(self, why):
        dropped = 0
        for b in list(self.brokers.values()):
            b.shutdown(why)
            dropped += 1
        return dropped


def set_timing(tub, handle_old, keepalive, disconnect):
    # Foolscap's option parser truncates to whole seconds; fractional values
    # go straight onto the tub so tests can use short timers.
    if handle_old is not None:
        if float(handle_old).is_integer():
            tub.setOption("handle-old-duplicate-connections", int(handle_old))
        else:
            tub._handle_old_duplicate_connections = float(handle_old)
    if keepalive is not None:
        tub.keepaliveTimeout = float(keepalive)
    if disconnect is not None:
        tub.disconnectTimeout = float(disconnect)


class CommandReader(LineReceiver):
    """Feeds stdin lines to a handler and stops the reactor on EOF."""

    delimiter = b"\n"
    MAX_LENGTH = 1 << 20

    def __init__(self, handler):
        self.handler = handler

    def lineReceived(self, line):
        text = line.decode("utf-8", "replace").strip()
        if text:
            self.handler(text)

    def lineLengthExceeded(self, line):
        emit("error", cmd=None, error="command line too long")

    def connectionLost(self, reason):
        stop()


def listen_stdin(handler):
    stdio.StandardIO(CommandReader(handler))


def stop():
    try:
        reactor.stop()
    except ReactorNotRunning:
        pass
