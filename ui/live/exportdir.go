package live

import (
	"os"
	"path/filepath"
)

// DefaultExportDir is where e writes the decision log unless told
// otherwise: the user's state directory ($XDG_STATE_HOME/tubscope, else
// ~/.local/state/tubscope), else the temporary directory; never the
// working tree, where an export would sit untracked beside the source.
func DefaultExportDir() string { return defaultExportDir(os.Getenv, os.UserHomeDir) }

func defaultExportDir(getenv func(string) string, home func() (string, error)) string {
	// The XDG spec ignores a relative XDG_STATE_HOME.
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "tubscope")
	}
	if h, err := home(); err == nil && filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "state", "tubscope")
	}
	return filepath.Join(os.TempDir(), "tubscope")
}

// exportDir is the directory the inspector is given: the operator's own
// as it is (a missing one is reported when e is pressed), or the default,
// created now, with the temporary directory when it cannot be.
func exportDir(s Screen) string {
	if s.ExportDir != "" {
		return s.ExportDir
	}
	d := DefaultExportDir()
	if err := os.MkdirAll(d, 0o700); err != nil {
		return os.TempDir()
	}
	return d
}
