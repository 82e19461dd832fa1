package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// auditLog appends one JSON line per change.
type auditLog struct {
	mu sync.Mutex
	w  io.Writer
}

// AuditRecord is one line of the audit log.
type AuditRecord struct {
	Time   time.Time `json:"time"`
	Token  string    `json:"token"`
	Role   Role      `json:"role"`
	Action string    `json:"action"`
	Remote string    `json:"remote"`
	Status int       `json:"status"`
	Error  string    `json:"error,omitempty"`
}

func (a *auditLog) record(now time.Time, tok Token, r *http.Request, status int, err error) {
	if a.w == nil {
		return
	}
	rec := AuditRecord{Time: now.UTC(), Token: tok.Name, Role: tok.Role, Action: r.Method + " " + r.URL.Path,
		Remote: r.RemoteAddr, Status: status}
	if err != nil {
		rec.Error = err.Error()
	}
	line, _ := json.Marshal(rec)
	line = append(line, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	_, _ = a.w.Write(line)
	if f, ok := a.w.(*os.File); ok {
		_ = f.Sync()
	}
}
