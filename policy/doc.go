// Package policy is the YAML model of sbcd: realms and their listeners and
// media ports, trunks and their gateways, routes, and normalisation rule
// sets.
//
// Load (or Parse) reads one YAML document strictly: an unknown or duplicate
// key, a value of the wrong type or a duration without a unit is an error.
// Defaults documented on the Config fields are then filled in, and the
// whole document is validated. Every problem is reported at once as an
// Errors value, each FieldError naming the file, the line and the YAML path
// (for example realms[0].listeners[1].transport).
//
// A valid document compiles into an immutable *Set: regular expressions are
// compiled once, routes become a list of matchers, normalisation rules become
// Rules. A Set is safe for concurrent use; a reload builds a new Set and the
// caller swaps it atomically, so a bad file never replaces a good policy.
//
// The package does no I/O beyond reading the policy file (and checking that
// TLS files it names are readable), opens no sockets, and imports only the
// standard library and gopkg.in/yaml.v3.
package policy
