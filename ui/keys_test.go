package ui

import (
	"reflect"
	"testing"

	"github.com/charmbracelet/bubbles/key"
)

func allFlags() []keyFlags {
	var out []keyFlags
	for _, d := range []bool{false, true} {
		for _, r := range []bool{false, true} {
			for _, s := range []bool{false, true} {
				out = append(out, keyFlags{demo: d, replay: r, sources: s})
			}
		}
	}
	return out
}

func TestKeysDoNotClashWithinAContext(t *testing.T) {
	k := defaultKeys()
	for c := range numContexts {
		for _, f := range allFlags() {
			owner := map[string]string{}
			for _, g := range k.groups(c, f) {
				for _, b := range g {
					h := b.Help()
					if h.Key == "" || h.Desc == "" {
						t.Errorf("context %d: binding %v has no help text", c, b.Keys())
					}
					if len(b.Keys()) == 0 {
						t.Errorf("context %d: %q has no keys", c, h.Desc)
					}
					for _, ks := range b.Keys() {
						if prev, ok := owner[ks]; ok && prev != h.Desc {
							t.Errorf("context %d %+v: key %q bound to both %q and %q", c, f, ks, prev, h.Desc)
						}
						owner[ks] = h.Desc
					}
				}
			}
		}
	}
}

// No binding appears twice in one context's help.
func TestNoBindingListedTwice(t *testing.T) {
	k := defaultKeys()
	for c := range numContexts {
		for _, f := range allFlags() {
			seen := map[string]bool{}
			for _, g := range k.groups(c, f) {
				for _, b := range g {
					if seen[b.Help().Desc] {
						t.Errorf("context %d %+v: %q listed twice", c, f, b.Help().Desc)
					}
					seen[b.Help().Desc] = true
				}
			}
		}
	}
}

func TestEveryBindingIsLiveSomewhere(t *testing.T) {
	k := defaultKeys()
	live := map[string]bool{}
	for c := range numContexts {
		for _, f := range allFlags() {
			for _, g := range k.groups(c, f) {
				for _, b := range g {
					live[b.Help().Desc] = true
				}
			}
		}
	}
	v := reflect.ValueOf(k)
	for i := range v.NumField() {
		b := v.Field(i).Interface().(key.Binding)
		if b.Help().Desc == "" || b.Help().Key == "" {
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
	for _, b := range []key.Binding{k.Restart, k.SilentRestart, k.PowerCut, k.Storm, k.LoseDecision} {
		for _, ks := range b.Keys() {
			if len(ks) != 1 || ks[0] < 'A' || ks[0] > 'Z' {
				t.Errorf("%q uses key %q", b.Help().Desc, ks)
			}
		}
	}
}

// Every destructive action asks; nothing else does.
func TestDestructiveKinds(t *testing.T) {
	for _, kind := range []ActionKind{ActDrop, ActBlackHole, ActRestart, ActSilentRestart, ActLoseNext, ActPowerCut, ActStorm, ActFlap, ActLoseDecision, ActClone} {
		if !kind.destructive() {
			t.Errorf("%s does not ask", kind)
		}
	}
	for _, kind := range []ActionKind{ActForceReconnect, ActCyclePolicy, ActConnect, ActReplayToggle, ActReplayStep} {
		if kind.destructive() {
			t.Errorf("%s asks", kind)
		}
	}
}
