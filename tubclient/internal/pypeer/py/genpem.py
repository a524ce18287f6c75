"""Creates (or loads) a Foolscap certificate file and reports its tubid."""

import argparse

from foolscap.api import Tub

from peerlib import emit


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pem", required=True)
    args = p.parse_args()
    tub = Tub(certFile=args.pem)
    emit("pem", path=args.pem, tubid=tub.tubID)


if __name__ == "__main__":
    main()
