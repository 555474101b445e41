// Command retain applies the view store's retention on demand, as the nightly backfill does
// after it publishes: it deletes the speed rows of published days that lie more than
// --speed_retention behind the newest published day's end, and the rows of runs that serve no
// day and started more than --unpublished_grace ago, then prints what it deleted.
//
//	go run ./scripts/retain --store=sqlite:///var/lib/beamline/views.db --speed_retention=48h
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/beamline/beamline/io/store"
	_ "github.com/beamline/beamline/io/store/bigquerystore"
	_ "github.com/beamline/beamline/io/store/postgresstore"
	_ "github.com/beamline/beamline/io/store/sqlitestore"
)

func main() {
	storeURL := flag.String("store", "", "view store URL (required)")
	speed := flag.Duration("speed_retention", 48*time.Hour, "keep the speed rows of this much before the newest published day's end; 0 keeps all")
	grace := flag.Duration("unpublished_grace", 48*time.Hour, "delete the rows of runs that serve no day once they started this long ago; 0 keeps them")
	flag.Parse()
	if err := run(context.Background(), *storeURL, *speed, *grace); err != nil {
		fmt.Fprintln(os.Stderr, "retain:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url string, speed, grace time.Duration) error {
	if url == "" || speed < 0 || grace < 0 {
		return fmt.Errorf("need --store, and durations that are not negative")
	}
	st, err := store.Open(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	pubs, err := st.Publications(ctx)
	if err != nil {
		return err
	}
	var r store.Retention
	if speed > 0 && len(pubs) > 0 {
		r.SpeedBefore = pubs[len(pubs)-1].Day.AddDate(0, 0, 1).Add(-speed)
	}
	if grace > 0 {
		r.UnpublishedBefore = time.Now().Add(-grace)
	}
	sw, err := st.Retain(ctx, r)
	if err != nil {
		return err
	}
	fmt.Printf("deleted %d speed rows of published days (before %s) and %d rows of unpublished runs\n",
		sw.SpeedRows, r.SpeedBefore.Format(time.RFC3339), sw.BatchRows)
	return nil
}
