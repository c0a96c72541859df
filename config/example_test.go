package config_test

import (
	"bytes"
	"os"
	"regexp"
	"testing"

	"github.com/comandera/comandera"
	"github.com/comandera/comandera/config"
	"github.com/comandera/comandera/core"
	_ "github.com/comandera/comandera/drivers/all"
	"github.com/hashicorp/hcl/v2/gohcl"
)

// TestDefault: the repo-root printers.hcl, embedded as the default, is valid
// with the real drivers and declares the two sim printers.
func TestDefault(t *testing.T) {
	unsetenv(t, "PRINTER_SECRET")
	unsetenv(t, "CALLBACK_SECRET")
	src, err := os.ReadFile("../printers.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src, comandera.DefaultConfig) {
		t.Fatal("comandera.DefaultConfig differs from printers.hcl")
	}
	c, diags := config.Default()
	if len(diags) > 0 {
		t.Fatalf("the default printers.hcl has diagnostics:\n%s", config.Format(diags))
	}
	if len(c.Printers) != 2 || c.Printers[0].Name != "kitchen" || c.Printers[1].Name != "bar" {
		t.Fatalf("printers = %+v", c.Printers)
	}
	for _, p := range c.Printers {
		if p.Driver != "sim" {
			t.Errorf("printer %s uses driver %s, want sim", p.Name, p.Driver)
		}
	}
	if c.Server.Listen != "127.0.0.1:3001" || c.Server.DataDir != "comandera-data" || c.Server.Token != "" {
		t.Errorf("server = %+v", c.Server)
	}
	// The same file loaded from disk resolves paths against its directory.
	c2, diags := config.Load("../printers.hcl")
	if len(diags) > 0 {
		t.Fatalf("Load(../printers.hcl):\n%s", config.Format(diags))
	}
	if c2.Server.DataDir != "../comandera-data" {
		t.Errorf("DataDir = %q", c2.Server.DataDir)
	}
}

// TestExampleDocumentsDrivers: every attribute of every registered driver's
// block appears in printers.hcl, set or in a commented-out example.
func TestExampleDocumentsDrivers(t *testing.T) {
	src, err := os.ReadFile("../printers.hcl")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range core.Drivers() {
		if len(name) > 4 && name[:4] == "fake" {
			continue // this package's test drivers
		}
		d, _ := core.Lookup(name)
		schema, _ := gohcl.ImpliedBodySchema(d.Config())
		for _, a := range schema.Attributes {
			if !regexp.MustCompile(`(?m)^\s*(#\s*)?` + regexp.QuoteMeta(a.Name) + `\s*=`).Match(src) {
				t.Errorf("printers.hcl does not document the %s driver's %q", name, a.Name)
			}
		}
	}
}
