package tubclient

import (
	"context"
	"fmt"
)

// echoService is the test tubs' service: echo(x) returns x, ping() "pong".
func echoService() Object {
	return NewObject(map[string]Func{
		"echo": func(_ context.Context, args []any, _ map[string]any) (any, error) {
			if len(args) != 1 {
				return nil, &RemoteError{Type: "builtins.TypeError", Value: fmt.Sprintf("echo() takes one argument (%d given)", len(args))}
			}
			return args[0], nil
		},
		"ping": func(context.Context, []any, map[string]any) (any, error) { return "pong", nil },
	})
}
