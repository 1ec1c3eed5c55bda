package loadgen

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseRatio(t *testing.T) {
	for _, tc := range []struct {
		in       string
		get, set int
		ok       bool
	}{
		{"90:10", 90, 10, true},
		{"1:0", 1, 0, true},
		{"0:1", 0, 1, true},
		{"0:0", 0, 0, false},
		{"90", 0, 0, false},
		{"a:b", 0, 0, false},
		{"1:-1", 0, 0, false},
	} {
		get, set, err := ParseRatio(tc.in)
		if (err == nil) != tc.ok || get != tc.get || set != tc.set {
			t.Errorf("ParseRatio(%q) = %d, %d, %v; want %d, %d, ok=%v", tc.in, get, set, err, tc.get, tc.set, tc.ok)
		}
	}
}

func TestCheck(t *testing.T) {
	ok := Config{Addr: "127.0.0.1:1", Conns: 1, Keys: 1, GetWeight: 1, Pipeline: 1, Duration: time.Second}
	if err := ok.Check(); err != nil {
		t.Fatalf("Check(%+v) = %v, want nil", ok, err)
	}
	for _, tc := range []struct {
		change func(*Config)
		field  string // the field the error names; "" for none
	}{
		{func(c *Config) { c.Conns = 0 }, "Conns"},
		{func(c *Config) { c.Keys = 0 }, "Keys"},
		{func(c *Config) { c.ValueSize = -1 }, "ValueSize"},
		{func(c *Config) { c.ValueSize = MaxValueSize + 1 }, "ValueSize"},
		{func(c *Config) { c.GetWeight = 0 }, "GetWeight"},
		{func(c *Config) { c.SetWeight = -1 }, "GetWeight"},
		{func(c *Config) { c.Pipeline = 0 }, "Pipeline"},
		{func(c *Config) { c.Requests = -1 }, "Requests"},
		{func(c *Config) { c.Duration = 0 }, "Duration"},
		{func(c *Config) { c.Warmup = -time.Second }, "Warmup"},
		{func(c *Config) { c.KeyPrefix = "a b" }, "KeyPrefix"},
		{func(c *Config) { c.KeyPrefix = strings.Repeat("k", 250) }, "KeyPrefix"},
		{func(c *Config) { c.Duration, c.Requests = 0, 5 }, ""},
		{func(c *Config) { c.Duration, c.LoadOnly = 0, true }, ""},
		{func(c *Config) { c.KeyPrefix = strings.Repeat("k", 249) }, ""},
	} {
		cfg := ok
		tc.change(&cfg)
		err := cfg.Check()
		var ce *ConfigError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("Check(%+v) = %v, want nil", cfg, err)
		case tc.field != "" && (!errors.As(err, &ce) || ce.Field != tc.field):
			t.Errorf("Check(%+v) = %v, want a *ConfigError for %s", cfg, err, tc.field)
		}
	}
	if _, err := Run(t.Context(), Config{}); !errors.As(err, new(*ConfigError)) {
		t.Errorf("Run(Config{}) = %v, want a *ConfigError", err)
	}
}
