package e2e

import "github.com/openborder/openborder/test/testenv"

// InCI, RequireTool and RequireFile decide what a missing peer means:
// a skip on a developer's machine, a failure in CI (package testenv).
var (
	InCI        = testenv.InCI
	RequireTool = testenv.RequireTool
	RequireFile = testenv.RequireFile
)
