package main

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/comandera/comandera/core"
)

func init() {
	register(command{name: "version", summary: "print the version and build information", run: runVersion})
}

func runVersion(_ context.Context, _ []string, _ io.Reader, stdout, _ io.Writer) int {
	fmt.Fprintf(stdout, "comandera %s (%s, %s/%s)\n", core.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
