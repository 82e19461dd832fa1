package testenv

import "testing"

func TestRequireToolFindsSbinAndPath(t *testing.T) {
	if p := RequireTool(t, "sh"); p == "" {
		t.Fatal("sh not found")
	}
}
