package pgoapi_test

import (
	"testing"

	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/rules"
)

func TestNewWorkflowID(t *testing.T) {
	a, b := pgoapi.NewWorkflowID(), pgoapi.NewWorkflowID()
	if a == b || rules.WorkflowID(a) != "" || rules.WorkflowID(b) != "" {
		t.Errorf("ids %q %q", a, b)
	}
}
