package client_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memcached-lite/memcached-lite/client"
	"github.com/memcached-lite/memcached-lite/server"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

func TestMetaAPIMemcached(t *testing.T) { testMetaAPI(t, servertest.StartMemcached(t).Addr) }
func TestMetaAPILite(t *testing.T)      { testMetaAPI(t, startLite(t)) }

// testMetaAPI runs the meta calls against one server: replies, flags and
// the errors statuses map to.
func testMetaAPI(t *testing.T, addr string) {
	c := client.New(addr)
	defer c.Close()
	if err := c.FlushAll(0); err != nil {
		t.Fatal(err)
	}
	r, err := c.MetaSet("m", []byte("hello"), "T100", "F3", "c", "Oab")
	if err != nil || r.Status != "HD" {
		t.Fatalf("MetaSet: %+v %v", r, err)
	}
	cas, ok := r.Flag('c')
	if !ok || cas == "" || r.Flags[len(r.Flags)-1] != "Oab" {
		t.Fatalf("MetaSet flags: %q", r.Flags)
	}
	r, err = c.MetaGet("m", "v", "f", "c", "s")
	if err != nil || r.Status != "VA" || string(r.Value) != "hello" || strings.Join(r.Flags, " ") != "f3 c"+cas+" s5" {
		t.Fatalf("MetaGet: %+v %v", r, err)
	}
	if r, err = c.MetaGet("absent", "v", "k"); !errors.Is(err, client.ErrCacheMiss) || r.Status != "EN" || r.Flags[0] != "kabsent" {
		t.Errorf("MetaGet of a miss: %+v %v", r, err)
	}
	if r, err = c.MetaGet("absent", "v", "q"); err != nil || r.Status != "" {
		t.Errorf("quiet MetaGet of a miss: %+v %v", r, err)
	}
	if r, err = c.MetaSet("m", []byte("x"), "C"+cas+"0"); !errors.Is(err, client.ErrCASConflict) || r.Status != "EX" {
		t.Errorf("MetaSet with a stale CAS: %+v %v", r, err)
	}
	if r, err = c.MetaSet("m", []byte("x"), "ME"); !errors.Is(err, client.ErrNotStored) || r.Status != "NS" {
		t.Errorf("MetaSet ME of a present key: %+v %v", r, err)
	}
	if r, err = c.MetaSet("m", []byte("!"), "MA", "q"); err != nil || r.Status != "" {
		t.Errorf("quiet MetaSet MA: %+v %v", r, err)
	}
	if r, err = c.MetaArithmetic("n", "N0", "J10", "v"); err != nil || string(r.Value) != "10" {
		t.Errorf("MetaArithmetic N0 J10: %+v %v", r, err)
	}
	if r, err = c.MetaArithmetic("n", "MD", "D4", "v"); err != nil || string(r.Value) != "6" {
		t.Errorf("MetaArithmetic MD D4: %+v %v", r, err)
	}
	if _, err = c.MetaArithmetic("m"); !strings.Contains(err.Error(), "non-numeric") {
		t.Errorf("MetaArithmetic of text: %v", err)
	}
	if line, err := c.MetaDebug("m"); err != nil || !strings.Contains(line, "exp=") || !strings.Contains(line, "size=") {
		t.Errorf("MetaDebug: %q %v", line, err)
	}
	if r, err = c.MetaDelete("m", "I", "T30"); err != nil || r.Status != "HD" {
		t.Errorf("MetaDelete I: %+v %v", r, err)
	}
	if r, err = c.MetaGet("m", "v"); err != nil || strings.Join(r.Flags, " ") != "X W" || string(r.Value) != "hello!" {
		t.Errorf("MetaGet after md I: %+v %v", r, err)
	}
	if r, err = c.MetaDelete("m"); err != nil || r.Status != "HD" {
		t.Errorf("MetaDelete: %+v %v", r, err)
	}
	if r, err = c.MetaDelete("m", "q"); !errors.Is(err, client.ErrCacheMiss) || r.Status != "NF" {
		t.Errorf("MetaDelete of a miss, quiet: %+v %v", r, err)
	}
	if _, err = c.MetaGet("m", "zz"); err == nil || !strings.Contains(err.Error(), "invalid flag") {
		t.Errorf("MetaGet with a bad flag: %v", err)
	}
}

func TestAuthClientMemcached(t *testing.T) {
	path := authFile(t)
	testAuthClient(t, servertest.StartMemcached(t, "-Y", path).Addr)
}

func TestAuthClientLite(t *testing.T) {
	auth, err := server.LoadAuth(authFile(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	testAuthClient(t, servertest.Start(t, servertest.Options{Server: server.Options{Auth: auth}}).Addr)
}

func authFile(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "auth")
	if err := os.WriteFile(path, []byte("teacher:correct-horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// testAuthClient checks that a Client with the right password works, one
// with a wrong one gets ErrAuthFailed, and one with none is refused.
func testAuthClient(t *testing.T, addr string) {
	srv := []client.Server{{Addr: addr}}
	bad, err := client.NewWithOptions(client.Options{Username: "teacher", Password: "wrong"}, srv...)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.Set(&client.Item{Key: "k", Value: []byte("v")}); !errors.Is(err, client.ErrAuthFailed) {
		t.Errorf("Set with a wrong password: %v", err)
	}
	none := client.New(addr)
	defer none.Close()
	var ce *client.ClientError
	if _, err := none.Get("k"); !errors.As(err, &ce) || ce.Msg != "unauthenticated" {
		t.Errorf("Get without authenticating: %v", err)
	}
	good, err := client.NewWithOptions(client.Options{Username: "teacher", Password: "correct-horse"}, srv...)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := good.Set(&client.Item{Key: "k", Value: []byte("v")}); err != nil {
		t.Fatalf("Set with the right password: %v", err)
	}
	if it, err := good.Get("k"); err != nil || string(it.Value) != "v" {
		t.Errorf("Get: %+v %v", it, err)
	}
}
