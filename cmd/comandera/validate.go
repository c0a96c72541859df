package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/comandera/comandera/config"
)

func init() {
	register(command{name: "validate", summary: "check a printers.hcl and print every problem as file:line:col", run: runValidate})
}

// runValidate is `comandera validate [FILE]`: every diagnostic goes to stderr
// as a file:line:col line; exit 1 on any error, else a one-line summary on
// stdout and exit 0.
func runValidate(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: comandera validate [FILE]

Checks FILE (default ./printers.hcl) with the drivers built into this binary
and prints every problem as a file:line:col line on stderr. Exits 1 if there
is any error, 0 otherwise (warnings are printed but do not fail).`)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return 2
	}
	path := "printers.hcl"
	if fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	c, diags := config.Load(path)
	config.WriteDiagnostics(stderr, diags)
	if diags.HasErrors() {
		return 1
	}
	fmt.Fprintln(stdout, summary(path, c))
	return 0
}

// summary is one line saying what a valid configuration declares.
func summary(path string, c *config.Config) string {
	var printers, drivers, profiles []string
	for _, p := range c.Printers {
		printers = append(printers, p.Name)
		if !slices.Contains(drivers, p.Driver) {
			drivers = append(drivers, p.Driver)
		}
		if !slices.Contains(profiles, p.Profile.Name) {
			profiles = append(profiles, p.Profile.Name)
		}
	}
	var plugins []string
	for _, p := range c.Plugins {
		plugins = append(plugins, p.Name)
	}
	s := fmt.Sprintf("%s: valid: %s (%s); drivers: %s; profiles: %s",
		path, plural(len(printers), "printer"), strings.Join(printers, ", "),
		strings.Join(drivers, ", "), strings.Join(profiles, ", "))
	if len(plugins) > 0 {
		s += "; plugins: " + strings.Join(plugins, ", ")
	}
	if c.MQTT != nil {
		s += "; mqtt: " + c.MQTT.BrokerURL.Redacted()
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
