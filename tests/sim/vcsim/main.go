// vcsimx: govmomi's vSphere simulator (Debian's golang-github-vmware-govmomi-dev,
// built offline in GOPATH mode) on loopback, extended with what it lacks for
// the esx-vmdk driver's tests: ExportVm, ExportSnapshot (HttpNfcLease with
// device URLs, state, info, manifest, progress, complete, abort), an NFC
// download handler serving deterministic stream-optimized VMDK bytes, and
// OvfManager.CreateDescriptor. A middleware in front of /sdk answers those
// calls by hand and passes every other call to the simulator.
//
// Faults are set at start (-fault name=value, repeatable) or at any time
// through the control endpoint: GET /_control/fault?name=value (value
// empty clears it). GET /_control/state?vm=NAME answers the VM's power
// state, its snapshot count and the open leases as JSON, for the tests'
// assertions. Faults:
//
//	lease-error=1       the lease goes to state "error"
//	lease-timeout=N     leaseTimeout N s; the lease expires (error, NFC
//	                    downloads cut) when no HttpNfcLeaseProgress came for N s
//	task-error=METHOD   the task of METHOD (CreateSnapshot_Task, PowerOnVM_Task) fails
//	quiesce-error=1     a quiesced CreateSnapshot_Task fails (ApplicationQuiesceFault)
//	nfc-status=CODE     NFC downloads answer CODE (403, 500)
//	nfc-truncate=N      NFC downloads stop after N bytes (Content-Length is the full size)
//	nfc-rate=N          NFC downloads send N bytes/s
//	manifest-bad=1      HttpNfcLeaseGetManifest reports a wrong SHA-1
//	manifest-off=1      HttpNfcLeaseGetManifest answers MethodNotFound (an old ESXi)
//	snapshot-delay=N    CreateSnapshot_Task stays "running" for N s
//	shutdown-delay=N    ShutdownGuest powers the VM off only after N s
//	api-version=V       about.apiVersion answers V (e.g. 5.1)
//
// Usage: vcsimx -portfile FILE [-vpx] [-user U -pass P] [-disk-size N] [-disks N] [-fault k=v]...
// It writes "PORT" to -portfile once listening and the certificate to -certfile.
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

type faultList []string

func (f *faultList) String() string     { return strings.Join(*f, ",") }
func (f *faultList) Set(s string) error { *f = append(*f, s); return nil }

var (
	mu       sync.Mutex
	faults   = map[string]string{}
	leases   = map[string]*lease{}
	nleases  int
	ntasks   int
	fakeTask = map[string]*fakeTaskInfo{} // tasks answered by hand
	slowTask = map[string]time.Time{}     // simulator tasks shown "running" until then
	cookies  = map[string]bool{}          // session cookies handed out by Login
	diskSize int64
	nDisks   int
	esxMode  bool
	srvPort  string
)

type fakeTaskInfo struct {
	state, fault, msg string
}

type disk struct {
	key, target string
	size        int64
	seed        uint64
}

type lease struct {
	id, vm       string
	state        string
	polls        int
	timeout      int
	lastProgress time.Time
	disks        []disk
	done         bool
}

func fault(name string) string {
	mu.Lock()
	defer mu.Unlock()
	return faults[name]
}

func faultInt(name string) int {
	n, _ := strconv.Atoi(fault(name))
	return n
}

// The body of a SOAP call, decoded loosely: the method and the arguments used here.
type moref struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

type soapCall struct {
	XMLName xml.Name
	This    moref    `xml:"_this"`
	Obj     moref    `xml:"obj"`
	Quiesce string   `xml:"quiesce"`
	Percent int      `xml:"percent"`
	Spec    []moref  `xml:"specSet>objectSet>obj"`
	Paths   []string `xml:"specSet>propSet>pathSet"`
	Cdp     struct {
		Files []struct {
			DeviceID string `xml:"deviceId"`
			Path     string `xml:"path"`
			Size     int64  `xml:"size"`
		} `xml:"ovfFiles"`
	} `xml:"cdp"`
}

type envelope struct {
	Body struct {
		Call soapCall `xml:",any"`
	} `xml:"Body"`
}

const soapHead = `<?xml version="1.0" encoding="UTF-8"?>` +
	`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ` +
	`xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
	`<soapenv:Body>`
const soapTail = `</soapenv:Body></soapenv:Envelope>`

func reply(w http.ResponseWriter, method, inner string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprintf(w, "%s<%sResponse xmlns=\"urn:vim25\">%s</%sResponse>%s", soapHead, method, inner, method, soapTail)
}

func soapFault(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, "%s<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>%s</faultstring>"+
		"<detail><%sFault xmlns=\"urn:vim25\" xsi:type=\"%s\"></%sFault></detail></soapenv:Fault>%s",
		soapHead, xmlEsc(msg), typ, typ, typ, soapTail)
}

func xmlEsc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func findVM(ref string) *simulator.VirtualMachine {
	o := simulator.Map.Get(types.ManagedObjectReference{Type: "VirtualMachine", Value: ref})
	vm, _ := o.(*simulator.VirtualMachine)
	return vm
}

func newLease(vm *simulator.VirtualMachine) *lease {
	mu.Lock()
	defer mu.Unlock()
	nleases++
	l := &lease{id: fmt.Sprintf("lease-%d", nleases), vm: vm.Self.Value, state: "initializing",
		timeout: 300, lastProgress: time.Now()}
	if n, err := strconv.Atoi(faults["lease-timeout"]); err == nil && n > 0 {
		l.timeout = n
	}
	for i := 0; i < nDisks; i++ {
		l.disks = append(l.disks, disk{key: fmt.Sprintf("/%s/VirtualLsiLogicController0:%d", vm.Self.Value, i),
			target: fmt.Sprintf("disk-%d.vmdk", i), size: diskSize, seed: uint64(i + 1)})
	}
	leases[l.id] = l
	return l
}

// Called with mu held: move the lease along (initializing -> ready), expire it.
func leaseTick(l *lease) {
	if l.done {
		return
	}
	if l.state == "initializing" {
		l.polls++
		if l.polls > 1 {
			if faults["lease-error"] != "" {
				l.state = "error"
			} else {
				l.state = "ready"
				l.lastProgress = time.Now()
			}
		}
	}
	if l.state == "ready" && time.Since(l.lastProgress) > time.Duration(l.timeout)*time.Second {
		l.state = "error"
		log.Printf("%s expired: no progress for %d s", l.id, l.timeout)
	}
}

func leaseURL(l *lease, d disk) string {
	host := "*"
	if !esxMode {
		host = "127.0.0.1:" + srvPort
	}
	return fmt.Sprintf("https://%s/nfc/%s/%s", host, l.id, d.target)
}

func leaseInfo(l *lease) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<lease type="HttpNfcLease">%s</lease><entity type="VirtualMachine">%s</entity>`, l.id, l.vm)
	var kb int64
	for _, d := range l.disks {
		fmt.Fprintf(&b, "<deviceUrl><key>%s</key><importKey>%s</importKey><url>%s</url><sslThumbprint></sslThumbprint>"+
			"<disk>true</disk><targetId>%s</targetId><datastoreKey>datastore1</datastoreKey><fileSize>%d</fileSize></deviceUrl>",
			d.key, d.key, leaseURL(l, d), d.target, d.size)
		kb += d.size / 1024
	}
	fmt.Fprintf(&b, "<totalDiskCapacityInKB>%d</totalDiskCapacityInKB><leaseTimeout>%d</leaseTimeout>", kb, l.timeout)
	return b.String()
}

// The bytes of one disk: a streamOptimized sparse header, then a
// deterministic pseudo-random body (xorshift64 on the disk's seed).
func diskBlock(seed uint64) []byte {
	const blk = 1 << 20
	b := make([]byte, blk)
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := 0; i < blk; i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(b[i:], x)
	}
	copy(b, []byte("KDMV"))
	binary.LittleEndian.PutUint32(b[4:], 3)       // version
	binary.LittleEndian.PutUint32(b[8:], 0x30001) // flags: newline test, compressed, markers
	return b
}

type diskReader struct {
	blk      []byte
	off, end int64
}

func (r *diskReader) Read(p []byte) (int, error) {
	if r.off >= r.end {
		return 0, io.EOF
	}
	o := r.off % int64(len(r.blk))
	n := copy(p, r.blk[o:])
	if int64(n) > r.end-r.off {
		n = int(r.end - r.off)
	}
	r.off += int64(n)
	return n, nil
}

func diskSHA1(d disk) string {
	h := sha1.New()
	_, _ = io.Copy(h, &diskReader{blk: diskBlock(d.seed), end: d.size})
	return fmt.Sprintf("%x", h.Sum(nil))
}

func cookieOK(r *http.Request) bool {
	c, err := r.Cookie("vmware_soap_session")
	if err != nil {
		return false
	}
	mu.Lock()
	defer mu.Unlock()
	return cookies[c.Value]
}

// GET /nfc/LEASE/TARGET: one disk of a ready lease, for the session's cookie.
func serveNFC(w http.ResponseWriter, r *http.Request) {
	p := strings.Split(r.URL.Path, "/")
	if len(p) != 4 || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	if !cookieOK(r) {
		http.Error(w, "no valid session", http.StatusForbidden)
		return
	}
	if s := faultInt("nfc-status"); s != 0 {
		http.Error(w, "injected NFC failure", s)
		return
	}
	mu.Lock()
	l := leases[p[2]]
	var d *disk
	if l != nil {
		leaseTick(l)
		for i := range l.disks {
			if l.disks[i].target == p[3] {
				d = &l.disks[i]
			}
		}
	}
	ready := l != nil && l.state == "ready"
	mu.Unlock()
	if d == nil || !ready {
		http.Error(w, "no such lease or device, or lease not ready", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(d.size, 10))
	end := d.size
	if t := int64(faultInt("nfc-truncate")); t > 0 && t < end {
		end = t
	}
	rate := faultInt("nfc-rate")
	src := &diskReader{blk: diskBlock(d.seed), end: end}
	buf := make([]byte, 256<<10)
	if rate > 0 && rate < len(buf) {
		buf = buf[:rate]
	}
	for {
		mu.Lock()
		leaseTick(l)
		alive := l.state == "ready"
		mu.Unlock()
		if !alive {
			log.Printf("%s: lease no longer ready, cutting the download", l.id)
			break
		}
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			break
		}
		if rate > 0 {
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			time.Sleep(time.Duration(float64(n) / float64(rate) * float64(time.Second)))
		}
	}
	// A short body: returning before Content-Length bytes makes net/http close the connection.
}

func taskInfoXML(id, state, faultType, msg, result string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<returnval><objects><obj type="Task">%s</obj><propSet><name>info</name><val xsi:type="TaskInfo">`+
		`<key>%s</key><task type="Task">%s</task><state>%s</state>`, id, id, id, state)
	if faultType != "" {
		fmt.Fprintf(&b, `<error><fault xsi:type="%s"></fault><localizedMessage>%s</localizedMessage></error>`, faultType, xmlEsc(msg))
	}
	b.WriteString(result)
	b.WriteString(`</val></propSet></objects></returnval>`)
	return b.String()
}

// Handle the calls vcsim lacks, and the faults; false: pass to vcsim.
func intercept(w http.ResponseWriter, c *soapCall) bool {
	m := c.XMLName.Local
	switch m {
	case "ExportVm", "ExportSnapshot":
		var vm *simulator.VirtualMachine
		if m == "ExportSnapshot" {
			o := simulator.Map.Get(types.ManagedObjectReference{Type: "VirtualMachineSnapshot", Value: c.This.Value})
			s, ok := o.(*simulator.VirtualMachineSnapshot)
			if !ok {
				soapFault(w, "ManagedObjectNotFound", "no snapshot "+c.This.Value)
				return true
			}
			vm = findVM(s.Vm.Value)
		} else {
			vm = findVM(c.This.Value)
			if vm != nil && vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
				soapFault(w, "InvalidPowerState", "The attempted operation cannot be performed in the current state (Powered on).")
				return true
			}
		}
		if vm == nil {
			soapFault(w, "ManagedObjectNotFound", "no VM "+c.This.Value)
			return true
		}
		l := newLease(vm)
		reply(w, m, fmt.Sprintf(`<returnval type="HttpNfcLease">%s</returnval>`, l.id))
		return true
	case "HttpNfcLeaseProgress", "HttpNfcLeaseComplete", "HttpNfcLeaseAbort", "HttpNfcLeaseGetManifest":
		mu.Lock()
		l := leases[c.This.Value]
		if l == nil {
			mu.Unlock()
			soapFault(w, "ManagedObjectNotFound", "no lease "+c.This.Value)
			return true
		}
		leaseTick(l)
		st := l.state
		if st != "ready" {
			mu.Unlock()
			soapFault(w, "InvalidState", "lease is "+st)
			return true
		}
		switch m {
		case "HttpNfcLeaseProgress":
			l.lastProgress = time.Now()
		case "HttpNfcLeaseComplete":
			l.state, l.done = "done", true
		case "HttpNfcLeaseAbort":
			l.state, l.done = "error", true
		}
		disks := append([]disk(nil), l.disks...)
		mu.Unlock()
		if m != "HttpNfcLeaseGetManifest" {
			reply(w, m, "")
			return true
		}
		if fault("manifest-off") != "" {
			soapFault(w, "MethodNotFound", "Method not found: HttpNfcLeaseGetManifest")
			return true
		}
		var b strings.Builder
		for _, d := range disks {
			sum := diskSHA1(d)
			if fault("manifest-bad") != "" {
				sum = strings.Repeat("0", 40)
			}
			fmt.Fprintf(&b, "<returnval><key>%s</key><sha1>%s</sha1><size>%d</size><disk>true</disk><capacity>%d</capacity><populatedSize>%d</populatedSize></returnval>",
				d.key, sum, d.size, d.size, d.size)
		}
		reply(w, m, b.String())
		return true
	case "CreateDescriptor":
		vm := findVM(c.Obj.Value)
		if vm == nil {
			soapFault(w, "ManagedObjectNotFound", "no VM "+c.Obj.Value)
			return true
		}
		var files, disks strings.Builder
		for i, f := range c.Cdp.Files {
			fmt.Fprintf(&files, `<File ovf:href="%s" ovf:id="file%d" ovf:size="%d"/>`, xmlEsc(f.Path), i+1, f.Size)
			fmt.Fprintf(&disks, `<Disk ovf:capacity="%d" ovf:diskId="vmdisk%d" ovf:fileRef="file%d" `+
				`ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>`, diskSize, i+1, i+1)
		}
		ovf := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
			`<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">`+
			`<References>%s</References><DiskSection><Info>Virtual disks</Info>%s</DiskSection>`+
			`<VirtualSystem ovf:id="%s"><Info>A virtual machine</Info><Name>%s</Name></VirtualSystem></Envelope>`+"\n",
			files.String(), disks.String(), xmlEsc(vm.Name), xmlEsc(vm.Name))
		reply(w, m, `<returnval><ovfDescriptor>`+xmlEsc(ovf)+`</ovfDescriptor></returnval>`)
		return true
	case "CreateSnapshot_Task", "PowerOnVM_Task":
		quiesceFail := m == "CreateSnapshot_Task" && c.Quiesce == "true" && fault("quiesce-error") != ""
		if fault("task-error") == m || quiesceFail {
			mu.Lock()
			ntasks++
			id := fmt.Sprintf("task-fake-%d", ntasks)
			ft := &fakeTaskInfo{state: "error", fault: "SystemError", msg: "injected failure of " + m}
			if quiesceFail {
				ft.fault, ft.msg = "ApplicationQuiesceFault", "An error occurred while quiescing the virtual machine."
			}
			fakeTask[id] = ft
			mu.Unlock()
			reply(w, m, fmt.Sprintf(`<returnval type="Task">%s</returnval>`, id))
			return true
		}
		return false
	case "ShutdownGuest":
		n := faultInt("shutdown-delay")
		vm := findVM(c.This.Value)
		if n <= 0 || vm == nil || vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
			return false
		}
		go func() {
			time.Sleep(time.Duration(n) * time.Second)
			simulator.Map.WithLock(vm, func() {
				vm.Runtime.PowerState = types.VirtualMachinePowerStatePoweredOff
				vm.Summary.Runtime.PowerState = types.VirtualMachinePowerStatePoweredOff
				simulator.Map.Update(vm, []types.PropertyChange{
					{Name: "runtime.powerState", Val: types.VirtualMachinePowerStatePoweredOff},
					{Name: "summary.runtime.powerState", Val: types.VirtualMachinePowerStatePoweredOff},
				})
			})
		}()
		reply(w, m, "")
		return true
	case "RetrievePropertiesEx", "RetrieveProperties":
		if len(c.Spec) != 1 {
			return false
		}
		o := c.Spec[0]
		mu.Lock()
		defer mu.Unlock()
		if o.Type == "HttpNfcLease" {
			l := leases[o.Value]
			if l == nil {
				return false
			}
			leaseTick(l)
			var b strings.Builder
			fmt.Fprintf(&b, `<returnval><objects><obj type="HttpNfcLease">%s</obj>`, l.id)
			want := func(p string) bool {
				if len(c.Paths) == 0 {
					return true
				}
				for _, q := range c.Paths {
					if q == p {
						return true
					}
				}
				return false
			}
			if want("state") {
				fmt.Fprintf(&b, `<propSet><name>state</name><val xsi:type="HttpNfcLeaseState">%s</val></propSet>`, l.state)
			}
			if l.state == "ready" && want("info") {
				fmt.Fprintf(&b, `<propSet><name>info</name><val xsi:type="HttpNfcLeaseInfo">%s</val></propSet>`, leaseInfo(l))
			}
			if l.state == "error" && want("error") {
				b.WriteString(`<propSet><name>error</name><val xsi:type="LocalizedMethodFault"><fault xsi:type="SystemError"></fault>` +
					`<localizedMessage>injected lease error (or expired lease)</localizedMessage></val></propSet>`)
			}
			b.WriteString(`</objects></returnval>`)
			reply(w, m, b.String())
			return true
		}
		if o.Type == "Task" {
			if ft := fakeTask[o.Value]; ft != nil {
				reply(w, m, taskInfoXML(o.Value, ft.state, ft.fault, ft.msg, ""))
				return true
			}
			if t, ok := slowTask[o.Value]; ok && time.Now().Before(t) {
				reply(w, m, taskInfoXML(o.Value, "running", "", "", ""))
				return true
			}
		}
		return false
	}
	return false
}

func sdkMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/nfc/") {
			serveNFC(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/_control/") {
			control(w, r)
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/sdk") || r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var env envelope
		_ = xml.Unmarshal(body, &env)
		c := &env.Body.Call
		if intercept(w, c) {
			return
		}
		// Pass to vcsim, keeping the response to adjust it.
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		out := rec.Body.Bytes()
		switch c.XMLName.Local {
		case "Login":
			for _, ck := range rec.Result().Cookies() {
				if ck.Name == "vmware_soap_session" {
					mu.Lock()
					cookies[ck.Value] = true
					mu.Unlock()
				}
			}
		case "Logout":
			if ck, err := r.Cookie("vmware_soap_session"); err == nil {
				mu.Lock()
				delete(cookies, ck.Value)
				mu.Unlock()
			}
		case "RetrieveServiceContent":
			if v := fault("api-version"); v != "" {
				out = apiVersionRe(out, v)
			}
		case "CreateSnapshot_Task":
			if n := faultInt("snapshot-delay"); n > 0 {
				var resp struct {
					Body struct {
						R struct {
							Ret string `xml:"returnval"`
						} `xml:"CreateSnapshot_TaskResponse"`
					} `xml:"Body"`
				}
				if xml.Unmarshal(out, &resp) == nil && resp.Body.R.Ret != "" {
					mu.Lock()
					slowTask[resp.Body.R.Ret] = time.Now().Add(time.Duration(n) * time.Second)
					mu.Unlock()
				}
			}
		}
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(out)
	})
}

func apiVersionRe(out []byte, v string) []byte {
	s := string(out)
	i := strings.Index(s, "<apiVersion>")
	j := strings.Index(s, "</apiVersion>")
	if i < 0 || j < i {
		return out
	}
	return []byte(s[:i+len("<apiVersion>")] + v + s[j:])
}

func countSnapshots(list []types.VirtualMachineSnapshotTree) int {
	n := 0
	for _, t := range list {
		n += 1 + countSnapshots(t.ChildSnapshotList)
	}
	return n
}

func control(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch r.URL.Path {
	case "/_control/fault":
		mu.Lock()
		for k, v := range q {
			if v[0] == "" {
				delete(faults, k)
			} else {
				faults[k] = v[0]
			}
		}
		mu.Unlock()
		fmt.Fprintln(w, "ok")
	case "/_control/reset":
		mu.Lock()
		faults = map[string]string{}
		mu.Unlock()
		fmt.Fprintln(w, "ok")
	case "/_control/state":
		name := q.Get("vm")
		res := map[string]interface{}{}
		var names []string
		for _, e := range simulator.Map.All("VirtualMachine") {
			vm := e.(*simulator.VirtualMachine)
			names = append(names, vm.Name)
			if vm.Name != name {
				continue
			}
			res["power"] = string(vm.Runtime.PowerState)
			n := 0
			if vm.Snapshot != nil {
				n = countSnapshots(vm.Snapshot.RootSnapshotList)
			}
			res["snapshots"] = n
		}
		res["vms"] = names
		mu.Lock()
		open := 0
		for _, l := range leases {
			leaseTick(l)
			if !l.done && l.state != "error" {
				open++
			}
		}
		res["open_leases"] = open
		res["sessions"] = len(cookies)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	default:
		http.NotFound(w, r)
	}
}

// A P-256 self-signed certificate for 127.0.0.1 and localhost (httptest's
// own is RSA-1024, which OpenSSL 3 refuses).
func selfSigned() (tls.Certificate, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vcsimx"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		log.Fatal(err)
	}
	return c, certPEM
}

func main() {
	var fl faultList
	portfile := flag.String("portfile", "", "write the port here once listening")
	certfile := flag.String("certfile", "", "write the server certificate (PEM) here")
	vpx := flag.Bool("vpx", false, "a vCenter model (default: a standalone ESXi)")
	user := flag.String("user", "backup", "login user")
	pass := flag.String("pass", "", "login password (empty: read the second line of -passfile)")
	passfile := flag.String("passfile", "", "file with USER\\nPASSWORD")
	flag.Int64Var(&diskSize, "disk-size", 4<<20, "bytes per exported disk")
	flag.IntVar(&nDisks, "disks", 2, "disks per exported VM")
	flag.Var(&fl, "fault", "name=value (repeatable)")
	flag.Parse()
	for _, f := range fl {
		kv := strings.SplitN(f, "=", 2)
		if len(kv) == 2 {
			faults[kv[0]] = kv[1]
		}
	}
	if *passfile != "" {
		b, err := os.ReadFile(*passfile)
		if err != nil {
			log.Fatal(err)
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) == 2 {
			*user, *pass = lines[0], lines[1]
		}
	}
	if *pass == "" {
		log.Fatal("vcsimx: -pass or -passfile needed")
	}
	esxMode = !*vpx
	var model *simulator.Model
	if *vpx {
		model = simulator.VPX()
	} else {
		model = simulator.ESX()
	}
	defer model.Remove()
	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	cert, certPEM := selfSigned()
	model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	model.Service.Listen = &url.URL{Host: "127.0.0.1:0", User: url.UserPassword(*user, *pass)}
	srv := model.Service.NewServer()
	defer srv.Close()
	srv.Config.Handler = sdkMiddleware(srv.Config.Handler)
	srvPort = srv.URL.Port()
	if *certfile != "" {
		if err := os.WriteFile(*certfile, certPEM, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	if *portfile != "" {
		tmp := *portfile + ".tmp"
		if err := os.WriteFile(tmp, []byte(srvPort+"\n"), 0o644); err != nil {
			log.Fatal(err)
		}
		if err := os.Rename(tmp, *portfile); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("vcsimx listening on %s (esx=%v)", srv.URL.Host, esxMode)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
