// Package e2e holds end-to-end tests that build the real spate binary, run
// brokers as separate processes on 127.0.0.1, talk to them over real sockets
// and kill them with real signals. It has no library code.
package e2e
