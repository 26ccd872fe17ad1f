package main

import (
	"errors"
	"strings"
	"testing"
)

func TestConfirm(t *testing.T) {
	tests := []struct {
		input    string
		noPrompt bool
		wantErr  error
		wantOut  string
	}{
		{input: "yes\n", wantOut: promptText},
		{input: "  yes  \n", wantOut: promptText},
		{input: "yes", wantOut: promptText},
		{input: "no\n", wantErr: errAborted, wantOut: promptText},
		{input: "y\n", wantErr: errAborted, wantOut: promptText},
		{input: "YES\n", wantErr: errAborted, wantOut: promptText},
		{input: "", wantErr: errAborted, wantOut: promptText + "\n"},
		{input: "", noPrompt: true, wantOut: ""},
	}
	for _, tt := range tests {
		var out strings.Builder
		err := confirm(strings.NewReader(tt.input), &out, tt.noPrompt)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("input %q: error = %v, want %v", tt.input, err, tt.wantErr)
		}
		if out.String() != tt.wantOut {
			t.Errorf("input %q: wrote %q, want %q", tt.input, out.String(), tt.wantOut)
		}
	}
}
