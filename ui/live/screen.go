package live

import (
	"errors"

	"github.com/tubscope/tubscope/ui"
)

// runUI shows the sources in the inspector until the operator quits.
func runUI(sources []ui.Engine, s Screen, title string, compare bool) error {
	if len(sources) != 1 || compare {
		return errors.New("this inspector shows one source at a time; --compare needs the side-by-side view")
	}
	return ui.Run(sources[0], ui.Options{ExportDir: exportDir(s), Title: title})
}
