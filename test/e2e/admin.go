package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// AdminGet fetches a URL of sbcd's admin listener (metrics, pprof) within
// timeout and copies the body to w; any status but 200 is an error.
func AdminGet(ctx context.Context, url string, timeout time.Duration, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
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
	_, err = io.Copy(w, res.Body)
	return err
}

// AdminSave is AdminGet into a new file.
func AdminSave(ctx context.Context, url string, timeout time.Duration, file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := AdminGet(ctx, url, timeout, f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
