// Package e2e holds the end-to-end tests of `comandera serve`: TestMain
// builds the real binary and the tests run it as a subprocess on 127.0.0.1
// with simulated printers (API, callbacks, SSE, auth, kill -9 crash rounds,
// fault files) and a load benchmark. It has no non-test code.
package e2e
