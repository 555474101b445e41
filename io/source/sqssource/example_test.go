package sqssource_test

import (
	"fmt"
	"net/url"

	"github.com/beamline/beamline/io/source/sqssource"
)

func ExampleParseURL() {
	u, _ := url.Parse("sqs://sqs.eu-west-1.amazonaws.com/123456789012/events?visibility=120s")
	p, err := sqssource.ParseURL(u)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.QueueURL(), p.Region, p.Visibility, p.Call)
	// Output: https://sqs.eu-west-1.amazonaws.com/123456789012/events eu-west-1 2m0s 1s
}
