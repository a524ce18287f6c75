// Package logport speaks Foolscap's logging protocol over a tub: it
// subscribes to a remote tub's logport (what `flogtool tail` does), and it
// publishes tubscope's own events as a Foolscap logport, so `flogtool tail`,
// `flogtool dump` and log gatherers work against tubscope.
package logport

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tubscope/tubscope/tubclient"
)

// The RemoteInterface names Foolscap checks (PROTOCOL.md §13).
const (
	PublisherInterface    = "RILogPublisher.foolscap.lothar.com"
	ObserverInterface     = "RILogObserver.foolscap.lothar.com"
	SubscriptionInterface = "RISubscription.foolscap.lothar.com"
	GathererInterface     = "RILogGatherer.foolscap.lothar.com"
)

// ResolveTarget turns what an operator names into a logport FURL: a FURL,
// a file holding one, or a node directory holding logport.furl or
// private/logport.furl (a Tahoe-LAFS node's layout).
func ResolveTarget(target string) (string, error) {
	if strings.HasPrefix(target, "pb://") {
		if _, err := tubclient.ParseFURL(target); err != nil {
			return "", err
		}
		return target, nil
	}
	fi, err := os.Stat(target)
	if err != nil {
		return "", fmt.Errorf("logport target %q is neither a FURL nor a file or directory: %w", target, err)
	}
	path := target
	if fi.IsDir() {
		path = ""
		for _, name := range []string{"logport.furl", filepath.Join("private", "logport.furl")} {
			p := filepath.Join(target, name)
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
		if path == "" {
			return "", fmt.Errorf("%s holds neither logport.furl nor private/logport.furl (is the node running with a logport?)", target)
		}
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", target)
	}
	data, err := readSmall(path)
	if err != nil {
		return "", err
	}
	furl := strings.TrimSpace(string(data))
	if i := strings.IndexAny(furl, "\r\n"); i >= 0 {
		furl = furl[:i]
	}
	if !strings.HasPrefix(furl, "pb://") {
		return "", fmt.Errorf("%s does not hold a FURL", path)
	}
	if _, err := tubclient.ParseFURL(furl); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return furl, nil
}

// readSmall reads a FURL file, refusing anything large.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 4096)
	n, err := f.Read(buf)
	if err != nil && n == 0 {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if n == len(buf) {
		return nil, errors.New(path + " is too large to be a FURL file")
	}
	return buf[:n], nil
}
