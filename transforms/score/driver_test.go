package score

import (
	"context"
	"errors"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url, driver, location string
		err                   error
	}{
		{url: "fake://testdata/model/spam.json", driver: "fake", location: "testdata/model/spam.json"},
		{url: "fake:///srv/spam.json", driver: "fake", location: "/srv/spam.json"},
		{url: "fake+gs://bucket/spam.json", driver: "fake", location: "gs://bucket/spam.json"},
		{url: "fake+http://host:8080/v2/models/spam?timeout=1s", driver: "fake", location: "http://host:8080/v2/models/spam?timeout=1s"},
		{url: "nope://x", err: ErrUnknownDriver},
		{url: "nope+gs://x", err: ErrUnknownDriver},
		{url: "testdata/model/spam.json"},
		{url: "fake://"},
	}
	for _, tt := range tests {
		driver, location, err := ParseURL(tt.url)
		switch {
		case tt.driver == "" && err == nil:
			t.Errorf("ParseURL(%q) = %q, %q; want an error", tt.url, driver, location)
		case tt.err != nil && !errors.Is(err, tt.err):
			t.Errorf("ParseURL(%q) error = %v, want %v", tt.url, err, tt.err)
		case tt.driver != "" && (err != nil || driver != tt.driver || location != tt.location):
			t.Errorf("ParseURL(%q) = %q, %q, %v; want %q, %q", tt.url, driver, location, err, tt.driver, tt.location)
		}
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering fake twice did not panic")
		}
	}()
	Register("fake", func(context.Context, string) (Model, error) { return nil, nil })
}

func TestConfigValidate(t *testing.T) {
	good := Config{Model: "fake://x"}
	if err := good.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	for _, c := range []Config{{}, {Model: "nope://x"}, {Model: "fake://x", Threshold: 1.5}, {Model: "fake://x", Threshold: -0.1}, {Model: "fake://x", BatchSize: -1}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
