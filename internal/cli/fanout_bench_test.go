package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/web"
)

// BenchmarkFanout1000 measures how long one message takes to reach every
// member of a service group of 1,000 connected customers: from just before
// the sender's POST to each socket's receipt. Reported: p50/p99/max in ms.
//
//	go test -run '^$' -bench Fanout1000 -benchtime 50x ./internal/cli/
func BenchmarkFanout1000(b *testing.B) {
	const members = 1000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := startBenchDemo(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ch, err := d.Service.Channel(ctx, d.AppID)
	if err != nil {
		b.Fatal(err)
	}
	tokens := make([]string, members)
	for i := range tokens {
		u, err := d.Service.SignIn(ctx, ch, desk.Profile{TenantID: d.TenantID, ObjectID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: fmt.Sprintf("Member %d", i)})
		if err != nil {
			b.Fatal(err)
		}
		tok, hash := web.NewAPIToken()
		if err := d.Service.Store.CreateSession(ctx, &desk.Session{TokenHash: hash, Kind: desk.SessionTab, UserID: u.ID, AppID: d.AppID, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		tokens[i] = tok
	}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		wg        sync.WaitGroup
		ready     sync.WaitGroup
	)
	received := make(chan struct{}, members*4)
	wsURL := strings.Replace(d.URL, "http", "ws", 1) + "/api/tab/" + d.AppID + "/live"
	ready.Add(members)
	for i := 0; i < members; i++ {
		wg.Add(1)
		go func(tok string) {
			defer wg.Done()
			c, _, err := websocket.Dial(ctx, wsURL, nil)
			if err != nil {
				b.Error(err)
				ready.Done()
				return
			}
			defer c.CloseNow()
			c.SetReadLimit(1 << 20)
			auth, _ := json.Marshal(map[string]string{"type": "auth", "token": tok})
			c.Write(ctx, websocket.MessageText, auth)
			c.Read(ctx) // ready
			ready.Done()
			for {
				_, data, err := c.Read(ctx)
				if err != nil {
					return
				}
				// The client only finds the send time: a full decode would
				// charge the clients' work, which runs on the same two cores,
				// to the server.
				i := bytes.Index(data, []byte(`"body":"t=`))
				if i < 0 {
					continue
				}
				rest := data[i+len(`"body":"t=`):]
				sent, _ := strconv.ParseInt(string(rest[:bytes.IndexByte(rest, '"')]), 10, 64)
				lat := time.Since(time.Unix(0, sent))
				mu.Lock()
				latencies = append(latencies, lat)
				mu.Unlock()
				received <- struct{}{}
			}
		}(tokens[i])
	}
	ready.Wait()
	sender := tokens[0]
	hc := &http.Client{Timeout: 10 * time.Second}
	// Warm-up messages (not measured): the first writes on 1,000 fresh
	// sockets grow stacks and buffers once; the figure is the steady state.
	const warmup = 5
	for n := 0; n < warmup+b.N; n++ {
		if n == warmup {
			mu.Lock()
			latencies = latencies[:0]
			mu.Unlock()
			b.ResetTimer()
		}
		body := fmt.Sprintf(`{"body":"t=%d"}`, time.Now().UnixNano())
		req, _ := http.NewRequest("POST", d.URL+"/api/tab/"+d.AppID+"/messages", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+sender)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil || resp.StatusCode != 201 {
			b.Fatalf("send: %v %v", err, resp)
		}
		resp.Body.Close()
		timeout := time.After(10 * time.Second)
		for got := 0; got < members; got++ {
			select {
			case <-received:
			case <-timeout:
				b.Fatalf("message %d reached only %d of %d members", n, got, members)
			}
		}
	}
	b.StopTimer()
	cancel()
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	b.ReportMetric(float64(len(latencies))/float64(b.N), "deliveries/op")
	if len(latencies) != b.N*members {
		b.Fatalf("%d deliveries for %d messages to %d members", len(latencies), b.N, members)
	}
}
