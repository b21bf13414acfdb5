package main

import (
	"context"
	"errors"
	"io"
)

// runServe is wired to the gateway once its API lands.
func runServe(_ context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlagSet("serve", "[-config FILE]", "Run the gateway.", stderr)
	fs.String("config", "config.toml", configHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return errors.New("serve: not implemented yet")
}
