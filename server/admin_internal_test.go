package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/memcached-lite/memcached-lite/storage"
)

// failedStore is a store health that reports a fail-stop, which a test
// cannot provoke in a real store (it takes an fsync that fails).
type failedStore struct{ err error }

func (f failedStore) Err() error { return f.err }

func TestHealthzFailStop(t *testing.T) {
	st, err := storage.Open(filepath.Join(t.TempDir(), "data.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(st, Options{})
	cause := fmt.Errorf("%w: %w", storage.ErrFailed, fmt.Errorf("fdatasync: input/output error"))
	hs := httptest.NewServer(s.handler(nil, failedStore{cause}))
	t.Cleanup(hs.Close)
	resp, err := http.Get(hs.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := "unavailable: " + cause.Error() + "\n"
	if resp.StatusCode != http.StatusServiceUnavailable || string(body) != want {
		t.Fatalf("healthz after a fail-stop: %d %q, want 503 %q", resp.StatusCode, body, want)
	}
}
