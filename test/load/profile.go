package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/openborder/openborder/test/e2e"
)

// adminPort is the port of sbcd's admin listener when -profile is set (on
// the access realm's loopback address of the chosen network).
const adminPort = 9790

// saveProfiles fetches sbcd's heap profile (after a GC) and a goroutine
// dump from its admin listener into dir.
func saveProfiles(ctx context.Context, admin, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, path := range map[string]string{
		"heap.pprof":     "/debug/pprof/heap?gc=1",
		"goroutines.txt": "/debug/pprof/goroutine?debug=1",
	} {
		if err := e2e.AdminSave(ctx, "http://"+admin+path, 30*time.Second, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}
