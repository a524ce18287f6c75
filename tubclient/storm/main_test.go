package storm

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/internal/tubscopebin"
	"github.com/tubscope/tubscope/tubclient/service"
)

// childEnv makes the test binary a storm client process (see testChild).
const childEnv = "TUBSCOPE_STORM_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := RunChild(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	tubscopebin.Remove() // the tubscope built for binary_test.go
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testChild re-executes this test binary as a client process.
func testChild() *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	return cmd
}

// startQueen runs an in-process tub serving the built-in echo service on
// loopback, under policy.
func startQueen(t *testing.T, policy string) (*tubclient.Tub, string) {
	t.Helper()
	q, err := tubclient.New(tubclient.Config{Nickname: "queen"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	if policy != "" {
		if err := q.SetPolicyByName(policy); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Serve(ln); err != nil {
		t.Fatal(err)
	}
	furl, err := q.Register("echo", service.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	return q, furl
}

// testOptions are short bounds for storms in tests.
func testOptions(furl string, n int, fault Fault) Options {
	return Options{FURL: furl, N: n, Fault: fault, Window: 20 * time.Second, Hold: 500 * time.Millisecond,
		Timeout: 2 * time.Minute, NegotiationTimeout: 2 * time.Second, Down: time.Second, KeyExchange: tubclient.KexP256,
		Start: testChild}
}
