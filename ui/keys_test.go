package ui

import (
	"reflect"
	"testing"

	"github.com/charmbracelet/bubbles/key"
)

func TestKeysDoNotClashWithinAContext(t *testing.T) {
	k := defaultKeys()
	for c := ctxBrokers; c <= ctxPrompt; c++ {
		for _, demo := range []bool{false, true} {
			owner := map[string]string{}
			for _, g := range k.groups(c, demo) {
				for _, b := range g {
					h := b.Help()
					if h.Key == "" || h.Desc == "" {
						t.Errorf("context %d: binding %v has no help text", c, b.Keys())
					}
					if len(b.Keys()) == 0 {
						t.Errorf("context %d: %q has no keys", c, h.Desc)
					}
					for _, ks := range b.Keys() {
						if prev, ok := owner[ks]; ok {
							t.Errorf("context %d demo=%v: key %q bound to both %q and %q", c, demo, ks, prev, h.Desc)
						}
						owner[ks] = h.Desc
					}
				}
			}
		}
	}
}

func TestEveryBindingIsLiveSomewhere(t *testing.T) {
	k := defaultKeys()
	live := map[string]bool{}
	for c := ctxBrokers; c <= ctxPrompt; c++ {
		for _, g := range k.groups(c, true) {
			for _, b := range g {
				live[b.Help().Desc] = true
			}
		}
	}
	v := reflect.ValueOf(k)
	for i := range v.NumField() {
		b := v.Field(i).Interface().(key.Binding)
		if b.Help().Desc == "" {
			t.Errorf("%s has no help text", v.Type().Field(i).Name)
		}
		if !live[b.Help().Desc] {
			t.Errorf("%s is bound in no context", v.Type().Field(i).Name)
		}
	}
}

// Destructive restarts are never on a lowercase key one slip from a
// navigation key.
func TestRestartKeysAreShifted(t *testing.T) {
	k := defaultKeys()
	for _, b := range []key.Binding{k.Restart, k.SilentRestart, k.PowerCut, k.Storm} {
		for _, ks := range b.Keys() {
			if len(ks) != 1 || ks[0] < 'A' || ks[0] > 'Z' {
				t.Errorf("%q uses key %q", b.Help().Desc, ks)
			}
		}
	}
}
