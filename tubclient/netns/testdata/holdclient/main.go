// Command holdclient is the network-namespace test's long-lived tubscope
// client. It keeps one identity across restarts (--key), connects, calls
// echo, then pings every half second so its broker stays in use, printing
// one line per outcome ("tub ID INCARNATION", "ok METHOD VALUE",
// "error WHAT: ERR") until it is killed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/pyvalue"
)

// callTimeout bounds each connect and call so a dead path shows up as an
// error line and a retry rather than a hang.
const callTimeout = 10 * time.Second

// interval spaces pings, and retries after an error.
const interval = 500 * time.Millisecond

func main() {
	key := flag.String("key", "", "identity PEM file (created when missing)")
	flag.Parse()
	if flag.NArg() != 1 || *key == "" {
		fmt.Fprintln(os.Stderr, "usage: holdclient --key FILE FURL")
		os.Exit(2)
	}
	if err := run(*key, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "holdclient:", err)
		os.Exit(1)
	}
}

func run(keyFile, furl string) error {
	id, err := tubclient.LoadOrCreateIdentity(keyFile)
	if err != nil {
		return err
	}
	tub, err := tubclient.New(tubclient.Config{Identity: id, NegotiationTimeout: callTimeout})
	if err != nil {
		return err
	}
	defer tub.Close()
	fmt.Printf("tub %s %s\n", tub.TubID(), tub.Incarnation())
	for {
		what, err := call(tub, furl, "echo", "hello")
		for err == nil {
			time.Sleep(interval)
			what, err = call(tub, furl, "ping")
		}
		fmt.Printf("error %s: %v\n", what, err)
		time.Sleep(interval)
	}
}

// call gets (or reuses) the reference and makes one call, printing the
// outcome on success; it returns what it was doing for error lines.
func call(tub *tubclient.Tub, furl, method string, args ...any) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	ref, err := tub.GetReference(ctx, furl)
	if err != nil {
		return "connect", err
	}
	v, err := ref.Call(ctx, method, args...)
	if err != nil {
		return method, err
	}
	fmt.Printf("ok %s %s\n", method, pyvalue.Format(v))
	return method, nil
}
