package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
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
		if err := fetch(ctx, "http://"+admin+path, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

func fetch(ctx context.Context, url, file string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
