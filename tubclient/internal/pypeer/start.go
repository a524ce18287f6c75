package pypeer

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"time"
)

// ServerOptions configures server.py.
type ServerOptions struct {
	// PEM is the tub's certificate file (Foolscap format); created when
	// missing. Empty means a fresh identity that lives as long as the peer.
	PEM string
	// Port to listen on at 127.0.0.1; 0 picks a free one.
	Port int
	// Swissnum names the echo object in the FURL; empty means "echo".
	Swissnum string
	// HandleOld sets handle-old-duplicate-connections; 0 leaves it off.
	HandleOld time.Duration
	// Keepalive and Disconnect set the tub's keepaliveTimeout and
	// disconnectTimeout; 0 keeps Foolscap's defaults.
	Keepalive, Disconnect time.Duration
}

// ClientOptions configures client.py.
type ClientOptions struct {
	// PEM as in ServerOptions.
	PEM string
	// Call, if set, is called with Args right after connecting.
	Call string
	Args []any
	// Hold keeps the client running and taking commands after connecting
	// (otherwise it exits once the initial call, if any, is answered).
	Hold bool
	// Reconnector connects with Tub.connectTo and reports every connect
	// and disconnect; it implies Hold.
	Reconnector bool
	// HandleOld, Keepalive and Disconnect as in ServerOptions.
	HandleOld, Keepalive, Disconnect time.Duration
	// ConnectTimeout shortens Foolscap's 120 s outbound connection timeout
	// (through the tub's connect_timeout test option); 0 keeps it.
	ConnectTimeout time.Duration
}

// StartServer runs server.py and waits for its FURL.
func StartServer(ctx context.Context, opts ServerOptions) (*Peer, error) {
	args := []string{"--port", strconv.Itoa(opts.Port)}
	if opts.Swissnum != "" {
		args = append(args, "--swissnum", opts.Swissnum)
	}
	timing, err := timingArgs(opts.HandleOld, opts.Keepalive, opts.Disconnect)
	if err != nil {
		return nil, err
	}
	return launch(ctx, "server", "server.py", opts.PEM, append(args, timing...), "furl")
}

// StartClient runs client.py against furl and waits until its tub is up;
// the connection itself is reported later as a "connected" line.
func StartClient(ctx context.Context, furl string, opts ClientOptions) (*Peer, error) {
	args := []string{furl}
	if opts.Call != "" {
		args = append(args, "--call", opts.Call)
		for _, a := range opts.Args {
			enc, err := json.Marshal(a)
			if err != nil {
				return nil, fmt.Errorf("pypeer client: encoding arg: %w", err)
			}
			args = append(args, string(enc))
		}
	}
	if opts.Hold {
		args = append(args, "--hold")
	}
	if opts.Reconnector {
		args = append(args, "--reconnector")
	}
	timing, err := timingArgs(opts.HandleOld, opts.Keepalive, opts.Disconnect)
	if err != nil {
		return nil, err
	}
	if opts.ConnectTimeout > 0 {
		timing = append(timing, "--connect-timeout", strconv.FormatFloat(opts.ConnectTimeout.Seconds(), 'f', -1, 64))
	}
	return launch(ctx, "client", "client.py", opts.PEM, append(args, timing...), "tub")
}

// PythonPEM has Foolscap itself create (or load) the certificate file at
// path and returns its tubid.
func PythonPEM(ctx context.Context, path string) (string, error) {
	p, err := launch(ctx, "genpem", "genpem.py", path, nil, "pem")
	if err != nil {
		return "", err
	}
	tubid := p.TubID()
	if err := p.Stop(); err != nil {
		return "", err
	}
	return tubid, nil
}

func launch(ctx context.Context, name, script, pem string, args []string, helloEvent string) (*Peer, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	dir, err := writeScripts()
	if err != nil {
		return nil, err
	}
	if pem == "" {
		pem = filepath.Join(dir, "tub.pem")
	} else if pem, err = filepath.Abs(pem); err != nil {
		return nil, err
	}
	argv := append([]string{Python}, pythonFlags(filepath.Join(dir, script), "--pem", pem)...)
	p, err := start(name, append(argv, args...), dir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withStartDeadline(ctx)
	defer cancel()
	hello, err := p.Expect(ctx, helloEvent)
	if err != nil {
		p.Kill()
		return nil, fmt.Errorf("pypeer %s: starting: %w", name, err)
	}
	p.hello = hello
	return p, nil
}

func timingArgs(handleOld, keepalive, disconnect time.Duration) ([]string, error) {
	var args []string
	for _, o := range []struct {
		flag string
		d    time.Duration
	}{{"--handle-old", handleOld}, {"--keepalive", keepalive}, {"--disconnect", disconnect}} {
		switch {
		case o.d < 0:
			return nil, fmt.Errorf("pypeer: %s must not be negative: %v", o.flag, o.d)
		case o.d > 0:
			args = append(args, o.flag, strconv.FormatFloat(o.d.Seconds(), 'f', -1, 64))
		}
	}
	return args, nil
}
