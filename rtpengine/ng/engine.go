package ng

import (
	"context"

	"github.com/openborder/openborder/rtpengine"
)

// Engine is the media engine the Server drives. *rtpengine.Engine satisfies
// it. Errors are reported to the ng client as "error-reason" with the text of
// err.Error(); the Server does not interpret them otherwise.
type Engine interface {
	// Offer anchors the offer's media and returns the SDP for the other side.
	Offer(ctx context.Context, r rtpengine.OfferRequest) ([]byte, error)
	// Answer anchors the answer's media and returns the SDP for the offerer.
	Answer(ctx context.Context, r rtpengine.AnswerRequest) ([]byte, error)
	// Delete ends the call (or the monologue fromTag, when not empty) and
	// returns the final statistics.
	Delete(callID, fromTag string) (rtpengine.CallStats, error)
	// Query returns the current statistics of a call.
	Query(callID string) (rtpengine.CallStats, error)
	// List returns up to max call IDs.
	List(max int) []string
}
