package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// evalContext is the context expressions in printers.hcl are evaluated in:
// no variables, the functions env, file and trimspace. dir is the base of
// file()'s relative paths.
func evalContext(dir string) *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env":       envFunc,
			"file":      fileFunc(dir),
			"trimspace": stdlib.TrimSpaceFunc,
		},
	}
}

// envFunc is env("NAME") or env("NAME", "default").
var envFunc = function.New(&function.Spec{
	Description: "Returns an environment variable, or the default (second argument) when it is not set.",
	Params:      []function.Parameter{{Name: "name", Type: cty.String}},
	VarParam:    &function.Parameter{Name: "default", Type: cty.String},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if len(args) > 2 {
			return cty.NilVal, function.NewArgErrorf(2, "env takes a name and at most one default")
		}
		name := args[0].AsString()
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return cty.NilVal, function.NewArgErrorf(0, "%q is not an environment variable name", name)
		}
		if v, ok := os.LookupEnv(name); ok {
			if !utf8.ValidString(v) {
				return cty.NilVal, fmt.Errorf("environment variable %s is not valid UTF-8", name)
			}
			return cty.StringVal(v), nil
		}
		if len(args) == 2 {
			return args[1], nil
		}
		return cty.NilVal, fmt.Errorf("environment variable %s is not set; set it, or give a default: env(%q, \"\")", name, name)
	},
})

// maxFileTotal bounds what all the file() calls of one parse may read.
const maxFileTotal = 4 * MaxFileSize

// fileFunc is file("path"): a regular UTF-8 file of at most MaxFileSize
// bytes, relative paths taken from dir. One parse reads at most maxFileTotal
// bytes through it, so a small config cannot make it hold gigabytes.
func fileFunc(dir string) function.Function {
	total := 0
	return function.New(&function.Spec{
		Description: "Returns the contents of a UTF-8 text file; relative paths are relative to the configuration file.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if p == "" {
				return cty.NilVal, function.NewArgErrorf(0, "the path is empty")
			}
			b, err := readFile(resolve(dir, p))
			if err != nil {
				return cty.NilVal, err
			}
			if total += len(b); total > maxFileTotal {
				return cty.NilVal, fmt.Errorf("the file() calls of this configuration read more than %d bytes in all", maxFileTotal)
			}
			if !utf8.Valid(b) {
				return cty.NilVal, fmt.Errorf("%s is not valid UTF-8 text", p)
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

// resolve makes a relative path relative to dir.
func resolve(dir, p string) string {
	if p == "" || filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}
