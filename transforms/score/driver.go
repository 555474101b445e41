package score

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/beamline/beamline/io/registry"
)

// Features are what a model sees of one event.
type Features struct {
	Text      string
	UserAgent string
	URL       string
}

// Model scores batches of events. Implementations must be safe for concurrent use: one model
// is shared by every DoFn instance of a worker process (see Load).
type Model interface {
	// Predict returns one score in [0, 1] per element of batch, in order. An error means that
	// no score of the batch can be trusted; a driver that retries does so before returning it.
	Predict(ctx context.Context, batch []Features) ([]float32, error)
	// Close releases the model's resources.
	Close() error
}

// Opener opens a model at location, the model URL without its driver prefix (see Open).
type Opener func(ctx context.Context, location string) (Model, error)

// ErrUnknownDriver is returned for a model URL whose driver is not registered.
var ErrUnknownDriver = errors.New("unknown model driver")

var drivers = registry.New[Opener]("model driver", ErrUnknownDriver)

// Register makes a model driver available under name, as database/sql.Register does; drivers
// call it from their init function. It panics if name is registered twice or open is nil.
func Register(name string, open Opener) {
	if open == nil {
		panic("score: Register opener is nil")
	}
	if name == "" || strings.ContainsAny(name, "+:/") {
		panic(fmt.Sprintf("score: Register: bad driver name %q", name))
	}
	drivers.Register(name, open)
}

// Drivers returns the names of the registered drivers, sorted.
func Drivers() []string { return drivers.Schemes() }

// ParseURL splits a model URL into its driver name and the location the driver opens:
//
//	DRIVER://LOCATION         logreg://testdata/model/spam.json -> "testdata/model/spam.json"
//	                          logreg:///models/spam.json        -> "/models/spam.json"
//	DRIVER+SCHEME://REST      logreg+gs://bucket/spam.json      -> "gs://bucket/spam.json"
//	                          kserve+http://host:8080/v2/models/spam -> "http://host:8080/v2/models/spam"
//
// It fails with ErrUnknownDriver when the driver is not registered.
func ParseURL(modelURL string) (driver, location string, err error) {
	i := strings.Index(modelURL, "://")
	if i <= 0 {
		return "", "", fmt.Errorf("parse model URL %q: want DRIVER://LOCATION or DRIVER+SCHEME://LOCATION", modelURL)
	}
	scheme := modelURL[:i]
	if d, _, ok := strings.Cut(scheme, "+"); ok {
		driver, location = d, modelURL[len(d)+1:]
	} else {
		driver, location = scheme, modelURL[i+3:]
	}
	if location == "" {
		return "", "", fmt.Errorf("parse model URL %q: empty location", modelURL)
	}
	if opener(driver) == nil {
		return "", "", fmt.Errorf("parse model URL %q: %w %q (registered: %s; is the driver package imported?)",
			modelURL, ErrUnknownDriver, driver, strings.Join(Drivers(), ", "))
	}
	return driver, location, nil
}

func opener(driver string) Opener {
	open, _ := drivers.Get(driver)
	return open
}

// Open opens the model at modelURL with its registered driver. Each call opens a new model;
// DoFns use Load, which shares one model per URL and process.
func Open(ctx context.Context, modelURL string) (Model, error) {
	driver, location, err := ParseURL(modelURL)
	if err != nil {
		return nil, err
	}
	m, err := opener(driver)(ctx, location)
	if err != nil {
		return nil, fmt.Errorf("open model %s: %w", modelURL, err)
	}
	return m, nil
}
