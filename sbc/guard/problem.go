package guard

// Problem is a refusal: the SIP status to answer with (0: drop silently)
// and the reason it is counted under.
type Problem struct {
	Code   int
	Reason string
}

// Refused reports whether p refuses the message.
func (p Problem) Refused() bool { return p.Reason != "" }

// Stages, in chain order, as counted in metrics.
const (
	StageSanity    = "sanity"
	StageACL       = "acl"
	StageBlacklist = "blacklist"
	StageRateLimit = "ratelimit"
	StageScanner   = "scanner"
)

// Reasons, as counted in metrics.
const (
	ReasonTooLarge         = "too_large"
	ReasonNoStartLine      = "no_start_line"
	ReasonBadStartLine     = "bad_start_line"
	ReasonTruncated        = "truncated"
	ReasonTooManyHeaders   = "too_many_headers"
	ReasonHeaderTooLong    = "header_too_long"
	ReasonNUL              = "nul_byte"
	ReasonBadHeader        = "bad_header"
	ReasonBadBranch        = "bad_branch"
	ReasonTooManyVia       = "too_many_via"
	ReasonBadCSeq          = "bad_cseq"
	ReasonBadContentLength = "bad_content_length"
	ReasonBadMaxForwards   = "bad_max_forwards"
	ReasonBadUTF8          = "bad_utf8"
	ReasonMissingHeader    = "missing_header"
	ReasonDuplicateHeader  = "duplicate_header"
	ReasonBodyTooLarge     = "body_too_large"
	ReasonBadVersion       = "bad_version"
	ReasonCSeqMethod       = "cseq_method"
	ReasonBadSDP           = "bad_sdp"
	ReasonUnparseable      = "unparseable"
	ReasonURIScheme        = "uri_scheme"
	ReasonStrayResponse    = "bad_response"
	ReasonBadExtension     = "bad_extension"

	ReasonDenied        = "denied"
	ReasonNotAllowed    = "not_allowed"
	ReasonNotTrunk      = "not_trunk"
	ReasonBlocked       = "blocked"
	ReasonSource        = "source"
	ReasonRealm         = "realm"
	ReasonTrunk         = "trunk"
	ReasonAccount       = "account"
	ReasonConnections   = "connections"
	ReasonUserAgent     = "user_agent"
	ReasonDistinctUsers = "distinct_users"
	ReasonUnknownUsers  = "unknown_users"
)

// Limits are the sanity bounds of a message.
type Limits struct {
	MaxMessage    int
	MaxHeaders    int
	MaxHeaderLine int
	MaxBody       int
	MaxVia        int
	MaxForwards   int
	MaxSDPMedia   int
}
