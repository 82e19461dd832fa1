// Package lawful will hold lawful interception for sbcd: the target store
// (ETSI X1), IRI (X2) and content (X3) PDUs per ETSI TS 103 221-2, and
// their delivery over TLS. It is a leaf package (standard library only).
package lawful
