package client_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The tests that need servers start them with server/servertest: this is
// an external test package, so the client package itself still imports
// nothing of the project.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
