// kubelet-sim is the part of a kubelet that shows whether a node stays healthy through its
// apiserver connection: it renews the node's Lease in kube-node-lease every 10 s with kubelet's
// timeouts (component-helpers' lease controller, as pkg/kubelet does) and keeps a pod informer
// for the node, both over one shared HTTP/2 transport. It logs every renewal and every watch
// event as one JSON line, and on SIGUSR1, SIGTERM, SIGINT or at the end of --duration prints a
// summary line: the longest gap between successful renewals, failed renewals, and the longest
// time without an open watch.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-helpers/apimachinery/lease"
	"k8s.io/utils/clock"
)

type stats struct {
	mu            sync.Mutex
	start         time.Time
	lastRenew     time.Time
	leaseGapMax   time.Duration
	renewOK       int
	renewFailed   int
	watchOpen     int
	watchClosedAt time.Time
	watchGapMax   time.Duration
	watchEvents   int
	watchStarts   int
	out           *json.Encoder
}

func (s *stats) log(event string, kv map[string]any) {
	if kv == nil {
		kv = map[string]any{}
	}
	kv["t"] = time.Now().UTC().Format(time.RFC3339Nano)
	kv["event"] = event
	s.out.Encode(kv)
}

func (s *stats) renewal(status int, err error, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	kv := map[string]any{"ms": took.Milliseconds()}
	if err == nil && status >= 200 && status < 300 {
		gap := now.Sub(s.lastRenew)
		if gap > s.leaseGapMax {
			s.leaseGapMax = gap
		}
		s.lastRenew = now
		s.renewOK++
		kv["ok"] = true
		kv["gap_ms"] = gap.Milliseconds()
	} else {
		s.renewFailed++
		kv["ok"] = false
		kv["status"] = status
		if err != nil {
			kv["error"] = err.Error()
		}
	}
	s.log("renew", kv)
}

func (s *stats) watchStarted(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watchOpen == 0 && !s.watchClosedAt.IsZero() {
		if gap := time.Since(s.watchClosedAt); gap > s.watchGapMax {
			s.watchGapMax = gap
		}
	}
	s.watchOpen++
	s.watchStarts++
	s.log("watch-open", map[string]any{"path": path})
}

func (s *stats) watchEnded(path string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchOpen--
	if s.watchOpen == 0 {
		s.watchClosedAt = time.Now()
	}
	kv := map[string]any{"path": path}
	if err != nil && err != io.EOF {
		kv["error"] = err.Error()
	}
	s.log("watch-closed", kv)
}

func (s *stats) summary(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	leaseGap := s.leaseGapMax
	if g := now.Sub(s.lastRenew); g > leaseGap {
		leaseGap = g
	}
	watchGap := s.watchGapMax
	if s.watchOpen == 0 && !s.watchClosedAt.IsZero() {
		if g := now.Sub(s.watchClosedAt); g > watchGap {
			watchGap = g
		}
	}
	s.log("summary", map[string]any{
		"reason":           reason,
		"lease_gap_ms_max": leaseGap.Milliseconds(),
		"renew_ok":         s.renewOK,
		"renew_failed":     s.renewFailed,
		"watch_gap_ms_max": watchGap.Milliseconds(),
		"watch_open":       s.watchOpen,
		"watch_starts":     s.watchStarts,
		"watch_events":     s.watchEvents,
		"run_ms":           now.Sub(s.start).Milliseconds(),
	})
}

// leaseTap sees every Lease write of the heartbeat client.
type leaseTap struct {
	rt http.RoundTripper
	s  *stats
}

func (t *leaseTap) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPut && req.Method != http.MethodPost || !strings.Contains(req.URL.Path, "/leases") {
		return t.rt.RoundTrip(req)
	}
	began := time.Now()
	resp, err := t.rt.RoundTrip(req)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	t.s.renewal(status, err, time.Since(began))
	return resp, err
}

// watchTap sees every watch of the main client: when its stream opens and when it ends.
type watchTap struct {
	rt http.RoundTripper
	s  *stats
}

type watchBody struct {
	io.ReadCloser
	once sync.Once
	end  func(error)
}

func (b *watchBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(func() { b.end(err) })
	}
	return n, err
}

func (b *watchBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.end(nil) })
	return err
}

func (t *watchTap) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Query().Get("watch") != "true" && req.URL.Query().Get("watch") != "1" {
		return t.rt.RoundTrip(req)
	}
	resp, err := t.rt.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		kv := map[string]any{"path": req.URL.Path}
		if err != nil {
			kv["error"] = err.Error()
		} else {
			kv["status"] = resp.StatusCode
		}
		t.s.mu.Lock()
		t.s.log("watch-failed", kv)
		t.s.mu.Unlock()
		return resp, err
	}
	path := req.URL.Path
	t.s.watchStarted(path)
	resp.Body = &watchBody{ReadCloser: resp.Body, end: func(e error) { t.s.watchEnded(path, e) }}
	return resp, nil
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the node (required)")
	nodeName := flag.String("node-name", "kubelet-sim", "node name: the Lease's name and the pods' spec.nodeName")
	duration := flag.Duration("duration", 0, "run this long, then print the summary and exit (0: until SIGTERM)")
	renewInterval := flag.Duration("renew-interval", 10*time.Second, "how often the Lease is renewed (kubelet: 0.25 x lease duration)")
	leaseSeconds := flag.Int("lease-duration", 40, "the Lease's leaseDurationSeconds (kubelet's nodeLeaseDurationSeconds)")
	flag.Parse()
	if *kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "kubelet-sim: --kubeconfig is required")
		os.Exit(2)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kubelet-sim: --kubeconfig %s: %v\n", *kubeconfig, err)
		os.Exit(2)
	}
	s := &stats{start: time.Now(), lastRenew: time.Now(), out: json.NewEncoder(os.Stdout)}

	// Kubelet's client settings (cmd/kubelet/app/server.go): protobuf, QPS 50/burst 100 for the
	// main client; the heartbeat client has no rate limit and a timeout of a quarter of the lease.
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "kubelet-sim"
	mainCfg := rest.CopyConfig(cfg)
	mainCfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &watchTap{rt: rt, s: s} })
	heartbeat := rest.CopyConfig(cfg)
	heartbeat.QPS = -1
	heartbeat.Timeout = time.Duration(*leaseSeconds/4) * time.Second
	heartbeat.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &leaseTap{rt: rt, s: s} })

	// Both clients reach the same cached transport (same TLS settings): one HTTP/2 connection.
	shared, err := rest.TransportFor(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kubelet-sim: transport: %v\n", err)
		os.Exit(1)
	}
	kubeClient := kubernetes.NewForConfigOrDie(mainCfg)
	heartbeatClient := kubernetes.NewForConfigOrDie(heartbeat)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// After repeated heartbeat failures kubelet closes idle connections only.
	onFailure := func() {
		s.mu.Lock()
		s.log("heartbeat-failure-close-idle", nil)
		s.mu.Unlock()
		utilnet.CloseIdleConnectionsFor(shared)
	}
	ctl := lease.NewController(clock.RealClock{}, heartbeatClient, *nodeName, int32(*leaseSeconds), onFailure,
		*renewInterval, *nodeName, corev1.NamespaceNodeLease, nil)
	go ctl.Run(ctx)

	factory := informers.NewSharedInformerFactoryWithOptions(kubeClient, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", *nodeName).String()
		}))
	podEvent := func(kind string) func(obj any) {
		return func(obj any) {
			name := ""
			if p, ok := obj.(*corev1.Pod); ok {
				name = p.Namespace + "/" + p.Name
			}
			s.mu.Lock()
			s.watchEvents++
			s.log("pod-"+kind, map[string]any{"pod": name})
			s.mu.Unlock()
		}
	}
	factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    podEvent("added"),
		UpdateFunc: func(_, obj any) { podEvent("updated")(obj) },
		DeleteFunc: podEvent("deleted"),
	})
	factory.Start(ctx.Done())

	s.mu.Lock()
	s.log("started", map[string]any{"node": *nodeName, "host": cfg.Host})
	s.mu.Unlock()

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	var end <-chan time.Time
	if *duration > 0 {
		end = time.After(*duration)
	}
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGUSR1 {
				s.summary("SIGUSR1")
				continue
			}
			s.summary(sig.String())
			return
		case <-end:
			s.summary("duration")
			return
		}
	}
}
