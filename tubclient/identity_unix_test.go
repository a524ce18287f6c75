//go:build unix

package tubclient

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A FIFO as the key file is refused at once. Were it opened for reading
// in the ordinary way, the open would wait for a writer that never comes
// and the test would hang.
func TestIdentityFIFORefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadOrCreateIdentityWarn(path)
	if err == nil || !strings.Contains(err.Error(), path+" is a named pipe (FIFO), not a regular file") {
		t.Errorf("FIFO: %v", err)
	}
	// The open itself, past the Stat (as when a FIFO replaces the file in
	// between), does not block either.
	_, _, err = readRegularFile(path)
	if err == nil || !strings.Contains(err.Error(), "named pipe (FIFO)") {
		t.Errorf("FIFO opened: %v", err)
	}
}

func TestIdentityDeviceRefused(t *testing.T) {
	_, _, err := LoadOrCreateIdentityWarn(os.DevNull)
	if err == nil || !strings.Contains(err.Error(), "is a character device, not a regular file") {
		t.Errorf("%s: %v", os.DevNull, err)
	}
}

// A new key file is 0600 whatever the umask.
func TestIdentityCreatedMode0600UnderAnyUmask(t *testing.T) {
	for _, mask := range []int{0, 0o022, 0o277} {
		old := syscall.Umask(mask)
		path := filepath.Join(t.TempDir(), "key.pem")
		_, _, err := LoadOrCreateIdentityWarn(path)
		syscall.Umask(old)
		if err != nil {
			t.Fatalf("umask %03o: %v", mask, err)
		}
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("umask %03o: mode %v, %v", mask, st.Mode(), err)
		}
	}
}
