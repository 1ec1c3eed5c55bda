package client_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/memcached-lite/memcached-lite/client"
)

// These examples need a server on 127.0.0.1:11211, so they are compiled but
// not run (no Output comment).

func ExampleClient() {
	c := client.New("127.0.0.1:11211")
	defer c.Close()

	if err := c.Set(&client.Item{Key: "greeting", Value: []byte("hello"), Expiration: 60}); err != nil {
		log.Fatal(err) // e.g. "cannot connect to 127.0.0.1:11211: connection refused"
	}
	it, err := c.Get("greeting")
	switch {
	case errors.Is(err, client.ErrCacheMiss):
		fmt.Println("not cached")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Printf("%s\n", it.Value)
	}
}

func ExampleClient_CompareAndSwap() {
	c := client.New("127.0.0.1:11211")
	defer c.Close()
	for {
		it, err := c.Gets("counter")
		if err != nil {
			log.Fatal(err)
		}
		it.Value = append(it.Value, '+')
		err = c.CompareAndSwap(it)
		if errors.Is(err, client.ErrCASConflict) {
			continue // someone else changed it: read again
		}
		if err != nil {
			log.Fatal(err)
		}
		return
	}
}

func ExampleClient_Do() {
	c, err := client.NewWithOptions(client.Options{
		Timeout: time.Second,
		Trace: func(addr string, dir client.Direction, p []byte) {
			fmt.Fprintf(os.Stderr, "%s %s %q\n", addr, dir, p) // 127.0.0.1:11211 >> "get k\r\n"
		},
	}, client.Server{Addr: "127.0.0.1:11211"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	reply, err := c.Do("127.0.0.1:11211", []byte("set k 0 0 2\r\nhi\r\nget k\r\n"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", reply) // "STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\n"
}
