// Package admin is sbcd's management REST API: JSON over HTTP(S) on the
// admin address, bearer tokens with roles, and an audit trail of every
// change. The daemon implements Backend; the API knows nothing of SIP or
// media beyond the JSON it serves.
//
// Roles: read_only may read everything except lawful interception;
// operator may also change things (hang up calls, reload policy, capture,
// blacklist); lawful_intercept may only use the /api/v1/li/ endpoints,
// which no other role may use.
package admin
