//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/dirgate/dirgate/internal/demo"
	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/getbill"
)

// Credentials of the emulated vendors.
const (
	concurClientID     = "bench-concur-client"
	concurClientSecret = "bench-concur-secret"
	concurCompany      = "0b3c5d7e-1f2a-4b6c-8d0e-2f4a6b8c0d1e"
	concurRequestToken = "bench-request-token"
	getbillClientID    = "bench-getbill-client"
	getbillSecret      = "bench-getbill-secret"
)

// vendorURLs are the base URLs of the emulators: one pair answering at
// once, one pair answering after the configured latency.
type vendorURLs struct {
	Concur, Getbill         string
	ConcurSlow, GetbillSlow string
}

// serveEmulators is the emulator process: the demo's directory served by
// two Concur and two getbill emulators on loopback, the second pair with
// latency. It prints their URLs as one JSON line on stdout and serves
// until its standard input closes (the load command ended).
func serveEmulators(latency time.Duration) error {
	people := demo.Directory()
	concurUsers, getbillUsers := people.Concur, people.Getbill
	company := &driver.Company{Name: "Acme Bench Corp", Address: "1 Loopback Way", City: "Bellevue", State: "WA", Zip: "98004", Country: "US"}
	newConcur := func(latency time.Duration) http.Handler {
		return concur.NewEmulator(concur.EmulatorOptions{
			ClientID: concurClientID, ClientSecret: concurClientSecret,
			CompanyUUID: concurCompany, RequestToken: concurRequestToken,
			Users: concurUsers, Company: company, Latency: latency,
		})
	}
	newGetbill := func() http.Handler {
		return getbill.NewEmulator(getbill.EmulatorOptions{
			ClientID: getbillClientID, ClientSecret: getbillSecret, Users: getbillUsers,
			RateLimit: 1_000_000, // the budget is not what is measured
		})
	}
	var urls vendorURLs
	var servers []*http.Server
	for _, s := range []struct {
		url *string
		h   http.Handler
	}{
		{&urls.Concur, newConcur(0)},
		{&urls.Getbill, newGetbill()},
		{&urls.ConcurSlow, newConcur(latency)},
		{&urls.GetbillSlow, delayed(latency, newGetbill())},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, srv)
		go srv.Serve(ln)
		*s.url = "http://" + ln.Addr().String()
	}
	if err := json.NewEncoder(os.Stdout).Encode(urls); err != nil {
		return err
	}
	io.Copy(io.Discard, os.Stdin) // until the load command goes away
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, s := range servers {
		s.Shutdown(ctx)
	}
	return nil
}

// delayed answers after d, as a vendor across the internet does (the
// getbill emulator has no latency of its own).
func delayed(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			h.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	})
}

// concurToken logs in to a Concur emulator as dirgate does (the password
// grant with the company request token) and returns an access token and
// the geolocation to call.
func concurToken(ctx context.Context, hc *http.Client, base string) (access, geo string, err error) {
	form := url.Values{
		"grant_type": {"password"}, "credtype": {"authtoken"},
		"client_id": {concurClientID}, "client_secret": {concurClientSecret},
		"username": {concurCompany}, "password": {concurRequestToken},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/oauth2/v0/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		Geolocation string `json:"geolocation"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		return "", "", fmt.Errorf("concur token: HTTP %d", resp.StatusCode)
	}
	return tok.AccessToken, tok.Geolocation, nil
}

// concurGet returns a GET of Concur's /users/ with the query, as dirgate
// sends it.
func concurGet(geo, token, query string) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodGet, geo+"/users/?"+query, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// The plain-handler floor: what a small net/http + encoding/json program
// spends to answer scenario a. It fetches the same Concur page from the
// same emulator and returns the same fields in the same shape.

type floorPage struct {
	Items []struct {
		ID           string `json:"ID"`
		PrimaryEmail string `json:"PrimaryEmail"`
		FirstName    string `json:"FirstName"`
		LastName     string `json:"LastName"`
		Active       bool   `json:"Active"`
	} `json:"Items"`
}

type floorNode struct {
	NativeID  string  `json:"nativeId"`
	FirstName *string `json:"firstName"`
	LastName  *string `json:"lastName"`
	Email     *string `json:"email"`
	Active    bool    `json:"active"`
}

type floorEdge struct {
	Node floorNode `json:"node"`
}

type floorResponse struct {
	Data struct {
		Users struct {
			Edges []floorEdge `json:"edges"`
		} `json:"users"`
	} `json:"data"`
}

// serveFloor is the floor process. It prints its URL on stdout and serves
// until its standard input closes.
func serveFloor(concurURL string) error {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	token, geo, err := concurToken(context.Background(), hc, concurURL)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /query", func(w http.ResponseWriter, r *http.Request) {
		var q struct {
			Query string `json:"query"`
		}
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		req, err := concurGet(geo, token, "offset=0&limit=100")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp, err := hc.Do(req.WithContext(r.Context()))
		if err != nil {
			http.Error(w, "vendor unavailable", http.StatusBadGateway)
			return
		}
		var page floorPage
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			http.Error(w, "bad vendor answer", http.StatusBadGateway)
			return
		}
		var out floorResponse
		out.Data.Users.Edges = make([]floorEdge, len(page.Items))
		for i, u := range page.Items {
			out.Data.Users.Edges[i].Node = floorNode{
				NativeID: u.ID, FirstName: opt(u.FirstName), LastName: opt(u.LastName),
				Email: opt(u.PrimaryEmail), Active: u.Active,
			}
		}
		b, err := json.Marshal(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		bytes, objects := heapAllocs()
		fmt.Fprintf(w, "go_memstats_alloc_bytes_total %d\ngo_memstats_mallocs_total %d\n", bytes, objects)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "floor:", err)
		}
	}()
	fmt.Println("http://" + ln.Addr().String())
	io.Copy(io.Discard, os.Stdin)
	return srv.Close()
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
