package main

// The view-store drivers that --store may name, besides sqlite:// (imported in main.go).
import (
	_ "github.com/beamline/beamline/io/store/bigquerystore" // bigquery://
	_ "github.com/beamline/beamline/io/store/postgresstore" // postgres:// and postgresql://
)
