package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func Test_run_commands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantErr    error // nil: success; errAny: any error
		wantStdout string
		wantStderr string
	}{
		{name: "no command", args: nil, wantErr: errUsage, wantStderr: "Commands:"},
		{name: "help flag", args: []string{"-h"}, wantStderr: "Commands:"},
		{name: "help command", args: []string{"help"}, wantStdout: "serve"},
		{name: "unknown command", args: []string{"bogus"}, wantErr: errUsage, wantStderr: `unknown command "bogus"`},
		{name: "unknown flag", args: []string{"-bogus"}, wantErr: errUsage, wantStderr: "flag provided but not defined"},
		{name: "version", args: []string{"version"}, wantStdout: "flowcache dev go"},
		{name: "version extra arg", args: []string{"version", "x"}, wantErr: errUsage, wantStderr: `unexpected argument "x"`},
		{name: "version help", args: []string{"version", "-h"}, wantStderr: "Usage: flowcache version"},
		{name: "check help", args: []string{"check", "-h"}, wantStderr: "-config"},
		{name: "serve help", args: []string{"serve", "-h"}, wantStderr: "-config"},
		{name: "check ok", args: []string{"check", "-config", "testdata/valid/full.toml"}, wantStdout: "full.toml: ok, routes: 2"},
		{name: "check bad", args: []string{"check", "-config", "testdata/config/bad_duration.toml"}, wantErr: errAny},
		{name: "check missing", args: []string{"check", "-config", "testdata/nope.toml"}, wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Errorf("run(%q) = %v, want nil", tt.args, err)
			case errors.Is(tt.wantErr, errAny) && err == nil:
				t.Errorf("run(%q) = nil, want an error", tt.args)
			case tt.wantErr != nil && !errors.Is(tt.wantErr, errAny) && !errors.Is(err, tt.wantErr):
				t.Errorf("run(%q) = %v, want %v", tt.args, err, tt.wantErr)
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("run(%q) stdout = %q, want it to contain %q", tt.args, stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("run(%q) stderr = %q, want it to contain %q", tt.args, stderr.String(), tt.wantStderr)
			}
		})
	}
}

// errAny in a test table means "some error".
var errAny = errors.New("any error")

func Test_run_checkReportsLine(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"check", "-config", "testdata/config/bad_upstream.toml"}, &stdout, &stderr)
	if err == nil {
		t.Fatal("run(check bad_upstream.toml) = nil, want an error")
	}
	for _, want := range []string{"bad_upstream.toml:5: routes[0].upstreams[1]:", "bad_upstream.toml:6: routes[0].upstreams[2]:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("run(check) = %q, want it to contain %q", err, want)
		}
	}
}
