package main

// The model drivers that --model may name.
import (
	_ "github.com/beamline/beamline/transforms/score/kserve" // kserve+http://host:8080/v2/models/M
	_ "github.com/beamline/beamline/transforms/score/logreg" // logreg://path, logreg+gs://, logreg+s3:// (embedded)
)
