package storage_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/storage"
)

func metaWrite(t *testing.T, s *storage.Store, m storage.MetaOp) (storage.MetaResult, error) {
	t.Helper()
	return s.StartMeta(m).WaitMeta()
}

// TestMetaStateSurvivesReopen checks that md I's stale mark and the win
// token mg hands out are kept in the record, and that an item without
// them is written in the old format's version.
func TestMetaStateSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	if _, err := metaWrite(t, s, storage.MetaOp{Kind: storage.OpSet, Item: storage.Item{Key: "k", Value: []byte("v"), Flags: 7, Expires: exp}}); err != nil {
		t.Fatal(err)
	}
	res, err := metaWrite(t, s, storage.MetaOp{Kind: storage.OpDelete, Item: storage.Item{Key: "k"}, Invalidate: true})
	if err != nil || res.Item.State != storage.StateStale {
		t.Fatalf("md I: %+v, %v", res, err)
	}
	res, err = metaWrite(t, s, storage.MetaOp{Kind: storage.OpMetaGet, Item: storage.Item{Key: "k"}})
	if err != nil || !res.Won || res.Item.State != storage.StateStale|storage.StateWon {
		t.Fatalf("mg of a stale item: %+v, %v", res, err)
	}
	before, err := s.Get("k")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	after, err := s.Get("k")
	if err != nil {
		t.Fatal(err)
	}
	if string(after.Value) != "v" || after.Flags != 7 || !after.Expires.Equal(exp) || after.CAS != before.CAS || after.State != storage.StateStale|storage.StateWon {
		t.Errorf("after reopen: %+v, want %+v", after, before)
	}
	// A second mg does not win again.
	res, err = metaWrite(t, s, storage.MetaOp{Kind: storage.OpMetaGet, Item: storage.Item{Key: "k"}})
	if err != nil || res.Won || res.PrevState != storage.StateStale|storage.StateWon {
		t.Errorf("second mg: %+v, %v", res, err)
	}
}

func TestMetaSetModes(t *testing.T) {
	s, err := storage.Open(filepath.Join(t.TempDir(), "db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	set := func(kind storage.Op, v string, cas uint64, hasCAS, inv bool) (storage.MetaResult, error) {
		return metaWrite(t, s, storage.MetaOp{Kind: kind, Item: storage.Item{Key: "k", Value: []byte(v)}, CAS: cas, HasCAS: hasCAS, Invalidate: inv})
	}
	if _, err := set(storage.OpReplace, "x", 0, false, false); !errors.Is(err, storage.ErrNotStored) {
		t.Errorf("replace of a missing key: %v", err)
	}
	if _, err := set(storage.OpSet, "x", 5, true, false); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("cas set of a missing key: %v", err)
	}
	r1, err := set(storage.OpAdd, "a", 0, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set(storage.OpAppend, "b", r1.Item.CAS+1, true, false); !errors.Is(err, storage.ErrCASMismatch) {
		t.Errorf("append with a wrong CAS: %v", err)
	}
	r2, err := set(storage.OpAppend, "b", r1.Item.CAS, true, false)
	if err != nil || string(r2.Item.Value) != "ab" {
		t.Fatalf("append: %+v %v", r2, err)
	}
	if _, err := set(storage.OpSet, "c", r2.Item.CAS+1, true, true); !errors.Is(err, storage.ErrCASMismatch) {
		t.Errorf("ms I with a higher CAS: %v", err)
	}
	r3, err := set(storage.OpSet, "c", r2.Item.CAS-1, true, true)
	if err != nil || r3.Item.State != storage.StateStale || string(r3.Item.Value) != "c" {
		t.Errorf("ms I with a lower CAS: %+v %v", r3, err)
	}
	r4, err := metaWrite(t, s, storage.MetaOp{Kind: storage.OpIncr, Item: storage.Item{Key: "n"}, Vivify: true, Initial: 10, Delta: 1})
	if err != nil || !r4.Created || r4.Num != 10 {
		t.Errorf("ma N J10: %+v %v", r4, err)
	}
}

// TestMetaFetchedInOrder queues writes and meta gets without waiting, so
// that they share commits: each mg sees the fetched mark as of its place
// in the queue, not as of when its result is read.
func TestMetaFetchedInOrder(t *testing.T) {
	s, err := storage.Open(filepath.Join(t.TempDir(), "db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	set := storage.MetaOp{Kind: storage.OpSet, Item: storage.Item{Key: "k", Value: []byte("v")}}
	get := storage.MetaOp{Kind: storage.OpMetaGet, Item: storage.Item{Key: "k"}, MarkFetched: true}
	touch := storage.MetaOp{Kind: storage.OpMetaGet, Item: storage.Item{Key: "k"}, Touch: true, Expires: time.Now().Add(time.Hour)}
	ops := []storage.MetaOp{set, get, get, touch, get, set, get, get}
	want := []bool{false, false, true, true, true, false, false, true} // Fetched of each mg
	var ps []*storage.Pending
	for _, op := range ops {
		ps = append(ps, s.StartMeta(op))
	}
	for i, p := range ps {
		res, err := p.WaitMeta()
		if err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
		if ops[i].Kind == storage.OpMetaGet && res.Fetched != want[i] {
			t.Errorf("op %d (mg): fetched %v, want %v", i, res.Fetched, want[i])
		}
	}
	if !s.Fetched("k", false) {
		t.Error("the last mg's mark was lost")
	}
}
