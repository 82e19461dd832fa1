package sbc

import "errors"

// Registration errors.
var (
	// ErrStateVersion means a state file was written by an incompatible sbcd.
	ErrStateVersion = errors.New("unknown state file version")
	// ErrRegistrar means a registrar did not answer a REGISTER in time or
	// could not be reached.
	ErrRegistrar = errors.New("registrar unreachable")
	// ErrRegisterRefused means a registrar refused sbcd's REGISTER.
	ErrRegisterRefused = errors.New("registration refused")
)
