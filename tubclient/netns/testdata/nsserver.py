"""pypeer's echo server, listening on a given address rather than loopback
so that a client in another network namespace can reach it.

--lib names pypeer's script directory; its peerlib and server modules are
used as they are, so the tub reports the same JSON lines as server.py.
"""

import argparse
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lib", required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--pem", required=True)
    args = p.parse_args()
    sys.path.insert(0, args.lib)

    from twisted.internet import reactor

    import peerlib
    import server

    tub = peerlib.ObservedTub(certFile=args.pem)
    tub.startService()
    reactor.addSystemEventTrigger("before", "shutdown", tub.stopService)
    listener = tub.listenOn("tcp:%d:interface=%s" % (args.port, args.host))
    port = listener._lp.getHost().port
    tub.setLocation("%s:%d" % (args.host, port))
    furl = tub.registerReference(server.Echo("root"), name="echo")
    peerlib.emit("furl", furl=furl, tubid=tub.tubID,
                 incarnation=tub.getIncarnationString(), port=port)
    # No commands; stdin only tells the server when its driver is gone.
    peerlib.listen_stdin(
        lambda text: peerlib.emit("error", cmd=text, error="no commands"))
    reactor.run()


if __name__ == "__main__":
    main()
