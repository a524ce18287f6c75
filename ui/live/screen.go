package live

import "github.com/tubscope/tubscope/ui"

// runUI shows the sources in the inspector until the operator quits;
// compare starts in the side-by-side view.
func runUI(sources []ui.Engine, s Screen, title string, compare bool) error {
	return ui.Run(sources, ui.Options{
		ExportDir: exportDir(s),
		Title:     title,
		ReadOnly:  s.ReadOnly,
		ASCII:     s.ASCII,
		Mouse:     s.Mouse,
		Compare:   compare,
	})
}
