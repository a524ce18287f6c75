// Package service holds the objects tubscope's own commands publish: the
// built-in service `serve` and the inspector register, so peers have
// something to call.
package service

import (
	"context"
	"fmt"

	"github.com/tubscope/tubscope/tubclient"
)

// Builtin is what `tubscope serve` registers: echo(x) returns x, ping()
// returns "pong", ref() returns a new reference to an echo object.
func Builtin() tubclient.Object {
	return tubclient.NewObject(map[string]tubclient.Func{
		"echo": echo,
		"ping": func(context.Context, []any, map[string]any) (any, error) { return "pong", nil },
		"ref": func(context.Context, []any, map[string]any) (any, error) {
			return tubclient.NewObject(map[string]tubclient.Func{"echo": echo}), nil
		},
	})
}

func echo(_ context.Context, args []any, kw map[string]any) (any, error) {
	if len(args) == 1 && len(kw) == 0 {
		return args[0], nil
	}
	if v, ok := kw["x"]; ok && len(args) == 0 && len(kw) == 1 {
		return v, nil
	}
	return nil, &tubclient.RemoteError{Type: "builtins.TypeError",
		Value: fmt.Sprintf("echo() takes exactly one argument (%d given)", len(args)+len(kw))}
}
