package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/sim"
)

func init() {
	register(command{name: "render", summary: "render a file of printer bytes as a PNG of the whole roll", run: runRender})
}

// maxRenderInput bounds the bytes `comandera render` reads.
const maxRenderInput = 64 << 20

// runRender is `comandera render [-config FILE] [-profile NAME] [-o OUT.png] [-text] IN`.
func runRender(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration `FILE` whose profile blocks to include (default ./printers.hcl if present)")
	profile := fs.String("profile", core.DefaultProfile, "printer `profile` whose resolution and code pages to use")
	out := fs.String("o", "", "write the roll as a PNG to `FILE`")
	text := fs.Bool("text", false, "print the transcript on stdout")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: comandera render [-config FILE] [-profile NAME] -o OUT.png [-text] IN

Interprets IN (a file of raw printer bytes, or - for stdin) as the printer
would and draws the whole roll as one PNG, cuts as dashed lines. -text
prints what was printed as text. The profile is a built-in one or one of
the configuration's profile blocks (-config, else ./printers.hcl if there
is one). Warnings (unknown commands, bad barcode
data…) go to stderr.

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 || (*out == "" && !*text) {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "comandera render: %v\n", err)
		return 1
	}
	profiles, _, ok := loadProfiles(*cfgPath, "render", stderr)
	if !ok {
		return 1
	}
	p, err := profiles.Lookup(*profile)
	if err != nil {
		return fail(err)
	}
	data, err := readInput(fs.Arg(0), stdin)
	if err != nil {
		return fail(err)
	}
	res, err := sim.RenderOptions(data, p, sim.Options{NoImage: *out == ""})
	if err != nil {
		return fail(err)
	}
	for _, w := range res.Warnings() {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if *out != "" {
		if err := writePNG(*out, res); err != nil {
			return fail(err)
		}
	}
	if *text {
		if _, err := io.WriteString(stdout, res.Text()); err != nil {
			return fail(err)
		}
	}
	return 0
}

func readInput(name string, stdin io.Reader) ([]byte, error) {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxRenderInput+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRenderInput {
		return nil, fmt.Errorf("%s: more than %d MiB of printer bytes", name, maxRenderInput>>20)
	}
	return data, nil
}

func writePNG(name string, res *sim.Result) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := sim.EncodePNG(f, res.Image); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	return f.Close()
}
