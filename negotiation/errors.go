package negotiation

import "errors"

// InternalErrorMessage is what Foolscap tells a peer about any failure that
// is not a NegotiationError.
const InternalErrorMessage = "internal server error, see logs"

// DuplicateConnectionMessage is the error text a master sends when it
// rejects an offer because it keeps its existing broker.
const DuplicateConnectionMessage = "Duplicate connection"

// PeerError is the peer aborting negotiation with its own message: a 500
// prelude reply, or a hello or decision block carrying an "error" key.
type PeerError struct {
	Message string
}

func (e *PeerError) Error() string {
	return "peer aborted negotiation: " + e.Message
}

// NegotiationError is a failure whose text may be passed to the peer, the
// way Foolscap passes NegotiationError texts through and hides the rest.
type NegotiationError struct {
	Message string
}

func (e *NegotiationError) Error() string { return e.Message }

// PeerMessage is the text to send the peer for err: a NegotiationError's own
// message, otherwise the generic internal-error text.
func PeerMessage(err error) string {
	if ne, ok := errors.AsType[*NegotiationError](err); ok {
		return ne.Message
	}
	return InternalErrorMessage
}
