package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/comandera/comandera/config"
	"github.com/comandera/comandera/core"
)

func init() {
	register(command{name: "profiles", summary: "list the printer profiles: built in and from printers.hcl", run: runProfiles})
}

// profileEntry is one listed profile and where it comes from.
type profileEntry struct {
	Source string `json:"source"` // "built-in", the config file, or "FILE (overrides built-in)"
	*core.Profile
}

// loadProfiles returns the built-in profiles plus those the profile blocks
// of the configuration at path add or override (path "": ./printers.hcl if
// there is one), and the file they came from ("" for none). Diagnostics go
// to stderr; ok is false when the file has errors.
func loadProfiles(path, cmd string, stderr io.Writer) (profiles core.Profiles, source string, ok bool) {
	if path == "" {
		if st, err := os.Stat("printers.hcl"); err == nil && st.Mode().IsRegular() {
			path = "printers.hcl"
		}
	}
	if path == "" {
		return core.Builtin(), "", true
	}
	cfg, diags := config.Load(path)
	config.WriteDiagnostics(stderr, diags)
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "comandera %s: %s has errors\n", cmd, path)
		return nil, "", false
	}
	return cfg.Profiles, path, true
}

// runProfiles is `comandera profiles [-config FILE] [-json] [NAME…]`.
func runProfiles(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("profiles", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration `FILE` whose profile blocks to include (default ./printers.hcl if present)")
	asJSON := fs.Bool("json", false, "print the profiles as JSON, every field")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: comandera profiles [-config FILE] [-json] [NAME…]

Lists the printer profiles a printer block can name: the built-in ones and
those the configuration's profile blocks add or override (-config, else
./printers.hcl when there is one). With NAMEs, only those. -json prints
every field.

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	builtin := core.Builtin()
	profiles, source, ok := loadProfiles(*cfgPath, "profiles", stderr)
	if !ok {
		return 1
	}
	names := profiles.Names()
	if fs.NArg() > 0 {
		names = fs.Args()
	}
	var list []profileEntry
	for _, n := range names {
		p, err := profiles.Lookup(n)
		if err != nil {
			fmt.Fprintf(stderr, "comandera profiles: %v\n", err)
			return 1
		}
		e := profileEntry{Source: "built-in", Profile: p}
		if b, ok := builtin[n]; !ok {
			e.Source = source
		} else if !reflect.DeepEqual(b, p) {
			e.Source = source + " (overrides built-in)"
		}
		list = append(list, e)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(list); err != nil {
			fmt.Fprintf(stderr, "comandera profiles: %v\n", err)
			return 1
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVENDOR\tCOMMANDS\tWIDTH\tCOLUMNS A/B\tCUTS\tQR\tQUIRKS\tSOURCE\tDESCRIPTION")
	for _, e := range list {
		p := e.Profile
		cuts := strings.Join(p.Cuts, ",")
		if cuts == "" {
			cuts = "none"
		}
		qr := "image"
		if p.QR {
			qr = "native"
		}
		quirks := p.Quirks
		if quirks == "" {
			quirks = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d dots, %d dpi\t%d/%d\t%s\t%s\t%s\t%s\t%s\n",
			p.Name, dash(p.Vendor), p.CommandSet, p.DotsPerLine, p.DPI, p.FontAColumns, p.FontBColumns,
			cuts, qr, quirks, e.Source, dash(p.Description))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%s profiles", strconv.Itoa(len(list)))
	if source != "" {
		fmt.Fprintf(stdout, " (built-in and %s)", source)
	} else {
		fmt.Fprint(stdout, " (built-in)")
	}
	fmt.Fprintln(stdout)
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
