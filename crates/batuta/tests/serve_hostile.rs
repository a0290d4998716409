//! Hostile clients against a running `batuta serve`: every bad request gets a
//! clear status and message, and a good request is served right after it;
//! slow, idle and excess connections are bounded.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Server;

const CONFIG: &str = "[serve]\naddress = \"127.0.0.1:0\"\n\
[serve.http]\nmax_body_bytes = 1048576\nmax_connections = 256\nheader_read_timeout_secs = 1\n\
body_read_timeout_secs = 1\nkeep_alive_timeout_secs = 2\ndrain_timeout_secs = 1\n";

fn server(test: &str) -> Server {
    let dir = common::workspace(test, "iris", &[4, 8, 3]);
    common::start(&dir, CONFIG, &[])
}

fn addr(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_owned()
}

/// Sends `request` as raw bytes and reads the answer until the server closes
/// or the declared body is complete: (status, body).
fn raw(server: &Server, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr(server)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The server may answer and close before it has read everything we send.
    let _ = s.write_all(request);
    read_response(&mut s)
}

fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        if let Some((status, body)) = parse(&buf) {
            return (status, body);
        }
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the answer: {e}"),
        }
    }
    parse(&buf)
        .unwrap_or_else(|| panic!("no complete answer in {:?}", String::from_utf8_lossy(&buf)))
}

/// A complete response in `buf`, if there is one.
fn parse(buf: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(buf);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().ok())
        })
        .flatten()?;
    (body.len() >= len).then(|| (status, body[..len].to_owned()))
}

fn post(path: &str, content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    if let Some(ct) = content_type {
        req.push_str(&format!("content-type: {ct}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn tensor(shape: &str, datatype: &str, data: &str) -> String {
    format!(
        r#"{{"inputs":[{{"name":"x","shape":{shape},"datatype":"{datatype}","data":{data}}}]}}"#
    )
}

/// A good request is answered 200 with probabilities.
fn assert_serves(server: &Server) {
    let body = tensor("[1,4]", "FP32", "[5.1,3.5,1.4,0.2]");
    let (status, out) = raw(
        server,
        &post(
            "/v2/models/iris/infer",
            Some("application/json"),
            body.as_bytes(),
        ),
    );
    assert_eq!(status, 200, "a good request after the bad one: {out}");
    assert!(out.contains("probabilities"), "{out}");
}

#[test]
fn every_bad_request_gets_a_clear_answer_and_hurts_no_one() {
    let server = server("hostile");
    let json = Some("application/json");
    let deep = "[".repeat(100_000);
    let long_name = "m".repeat(10_000);
    let cases: Vec<(String, Vec<u8>, u16, &str)> = vec![
        ("zero rows".into(), tensor("[0,4]", "FP32", "[]").into_bytes(), 400, "has no values"),
        ("zero by zero".into(), tensor("[0,0]", "FP32", "[]").into_bytes(), 400, "has no values"),
        ("zero rows of 7".into(), tensor("[0,7]", "FP32", "[]").into_bytes(), 400, "has no values"),
        ("10^7 rows declared".into(), tensor("[10000000,4]", "FP32", "[1,2,3,4]").into_bytes(), 400, "needs 40000000 values, data has 4"),
        ("100k levels of [".into(), tensor("[1,4]", "FP32", &deep).into_bytes(), 400, "recursion limit"),
        ("1e39".into(), tensor("[1,4]", "FP32", "[1e39,1,1,1]").into_bytes(), 400, "is not a finite f32"),
        ("NaN as a string".into(), tensor("[1,4]", "FP32", r#"["NaN",1,1,1]"#).into_bytes(), 400, "expected a number"),
        ("negative shape".into(), tensor("[-1,4]", "FP32", "[1,2,3,4]").into_bytes(), 400, "must be [rows, features]"),
        ("3-D shape".into(), tensor("[1,1,4]", "FP32", "[[[1,2,3,4]]]").into_bytes(), 400, "must be [rows, features]"),
        ("wrong feature count".into(), tensor("[2,2]", "FP32", "[1,2,3,4]").into_bytes(), 400, "has 2 features per row; model `iris` takes 4"),
        ("INT64".into(), tensor("[1,4]", "INT64", "[1,2,3,4]").into_bytes(), 400, "datatype `INT64` is not supported"),
        ("BYTES".into(), tensor("[1,4]", "BYTES", r#"["a","b","c","d"]"#).into_bytes(), 400, "datatype `BYTES` is not supported"),
        ("BOOL".into(), tensor("[1,4]", "BOOL", "[true,false,true,false]").into_bytes(), 400, "datatype `BOOL` is not supported"),
        ("missing inputs".into(), br#"{"id":"a"}"#.to_vec(), 400, "missing field `inputs`"),
        ("missing shape".into(), br#"{"inputs":[{"name":"x","datatype":"FP32","data":[1,2,3,4]}]}"#.to_vec(), 400, "missing field `shape`"),
        ("duplicate field".into(), br#"{"inputs":[],"inputs":[]}"#.to_vec(), 400, "duplicate field `inputs`"),
        ("two inputs".into(), br#"{"inputs":[{"name":"a","shape":[4],"datatype":"FP32","data":[1,2,3,4]},{"name":"b","shape":[4],"datatype":"FP32","data":[1,2,3,4]}]}"#.to_vec(), 400, "exactly one input tensor, got 2"),
        ("unknown output".into(), br#"{"inputs":[{"name":"x","shape":[4],"datatype":"FP32","data":[1,2,3,4]}],"outputs":[{"name":"logits"}]}"#.to_vec(), 400, "output `logits` does not exist"),
        ("invalid UTF-8".into(), b"{\"inputs\":[{\"name\":\"\xff\xfe\",\"shape\":[4]}]}".to_vec(), 400, "cannot parse the request body"),
        ("empty body".into(), Vec::new(), 400, "cannot parse the request body"),
    ];
    for (what, body, want, text) in &cases {
        let (status, out) = raw(&server, &post("/v2/models/iris/infer", json, body));
        assert_eq!(status, *want, "{what}: {out}");
        assert!(out.contains(text), "{what}: `{out}` lacks `{text}`");
        assert!(out.starts_with("{\"error\":"), "{what}: {out}");
        assert_serves(&server);
    }

    // Model names: long ones are clipped in the answer; `../` is just a name.
    let (status, out) = raw(
        &server,
        &post(&format!("/v2/models/{long_name}/infer"), json, b"{}"),
    );
    assert_eq!(status, 404, "{out}");
    assert!(out.contains("is not loaded") && out.len() < 300, "{out}");
    let (status, out) = raw(
        &server,
        &post("/v2/models/..%2F..%2Fetc%2Fpasswd/infer", json, b"{}"),
    );
    assert_eq!(
        (status, out.contains("`../../etc/passwd` is not loaded")),
        (404, true),
        "{out}"
    );
    let (status, out) = raw(&server, &post("/v2/models/../../etc/passwd", json, b"{}"));
    assert_eq!(
        (status, out.contains("no route for POST")),
        (404, true),
        "{out}"
    );
    assert_serves(&server);

    // Routes and methods.
    let (status, out) = raw(
        &server,
        b"GET /v2/models/iris/infer HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    assert_eq!(
        (status, out.contains("GET is not allowed")),
        (405, true),
        "{out}"
    );
    let (status, out) = raw(
        &server,
        b"GET /nowhere HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    assert_eq!(
        (status, out.contains("no route for GET /nowhere")),
        (404, true),
        "{out}"
    );

    // Content types: none is JSON (Triton's client sends none), a wrong one is 415.
    let good = tensor("[1,4]", "FP32", "[5.1,3.5,1.4,0.2]");
    let (status, out) = raw(
        &server,
        &post("/v2/models/iris/infer", None, good.as_bytes()),
    );
    assert_eq!(status, 200, "no Content-Type: {out}");
    let (status, out) = raw(
        &server,
        &post("/v2/models/iris/infer", Some("text/plain"), good.as_bytes()),
    );
    assert_eq!(
        (status, out.contains("`text/plain` is not supported")),
        (415, true),
        "{out}"
    );
    let (status, _) = raw(
        &server,
        &post(
            "/v2/models/iris/infer",
            Some("application/json; charset=utf-8"),
            good.as_bytes(),
        ),
    );
    assert_eq!(status, 200);

    // Bodies over the limit: declared (refused before reading) and chunked.
    let (status, out) = raw(
        &server,
        b"POST /v2/models/iris/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000000\r\n\r\n{\"inputs\":",
    );
    assert_eq!(
        (status, out.contains("limit of 1048576 bytes")),
        (413, true),
        "{out}"
    );
    let mut chunked = b"POST /v2/models/iris/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..40 {
        chunked.extend_from_slice(format!("{:x}\r\n", 65536).as_bytes());
        chunked.extend(std::iter::repeat_n(b' ', 65536));
        chunked.extend_from_slice(b"\r\n");
    }
    let (status, out) = raw(&server, &chunked);
    assert_eq!(
        (status, out.contains("max_body_bytes")),
        (413, true),
        "{out}"
    );
    assert_serves(&server);

    // A body that stops arriving: 408 after body_read_timeout.
    let mut s = TcpStream::connect(addr(&server)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        b"POST /v2/models/iris/infer HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{\"inp",
    )
    .unwrap();
    let t = Instant::now();
    let (status, out) = read_response(&mut s);
    assert_eq!(
        (status, out.contains("did not arrive within 1 s")),
        (408, true),
        "{out}"
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_serves(&server);

    let m = common::scrape(&common::agent(), &server.base);
    assert!(
        common::metric(&m, "batuta_requests_total", &[("outcome", "rejected")])
            >= cases.len() as f64
    );
    assert!(
        common::metric(&m, "batuta_requests_total", &[("outcome", "error")]) == 0.0,
        "{m}"
    );
}

/// Connections the server closed: reading gives EOF (or a reset).
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(0))
        || matches!(s.read(&mut b), Err(e) if e.kind() == ErrorKind::ConnectionReset)
}

#[test]
fn slow_and_idle_connections_are_closed() {
    let server = server("slowloris");
    // 200 slowloris clients: headers a byte at a time, never finished.
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(addr(&server)).unwrap())
        .collect();
    let start = Instant::now();
    let head = b"POST /v2/models/iris/infer HTTP/1.1\r\nhost: x\r\nx-slow: ";
    let mut i = 0;
    while start.elapsed() < Duration::from_millis(2500) {
        for s in &mut slow {
            let _ = s.write_all(&[head[i % head.len()]]);
        }
        i += 1;
        std::thread::sleep(Duration::from_millis(100));
        if i == 5 {
            assert_serves(&server); // served while they trickle
        }
    }
    for s in &mut slow {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(
            closed(s),
            "a slowloris connection outlived header_read_timeout"
        );
    }
    drop(slow);

    // An idle keep-alive connection is closed after keep_alive_timeout.
    let mut idle = TcpStream::connect(addr(&server)).unwrap();
    idle.write_all(b"GET /v2/health/live HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(read_response(&mut idle).0, 200);
    let t = Instant::now();
    assert!(closed(&mut idle));
    let waited = t.elapsed();
    assert!(
        waited > Duration::from_millis(1500) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

/// Polls `done` every 20 ms; fails after 20 s naming `what`.
fn wait_for(done: impl Fn() -> bool, what: &str) {
    let t = Instant::now();
    while !done() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Descriptors the server process holds open.
fn server_fds(server: &Server) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", server.child.id())).map_or(0, |d| d.count())
}

#[test]
fn excess_connections_are_refused_and_bounded() {
    // Held connections must outlive the kernel's handshake retries here.
    let dir = common::workspace("flood", "iris", &[4, 8, 3]);
    let config = CONFIG.replace(
        "header_read_timeout_secs = 1",
        "header_read_timeout_secs = 60",
    );
    let server = common::start(&dir, &config, &[]);
    let base = server_fds(&server);

    // Past the cap a connection is told 503 at once.
    let held: Vec<TcpStream> = (0..256)
        .map(|_| TcpStream::connect(addr(&server)).unwrap())
        .collect();
    wait_for(
        || server_fds(&server) >= base + 256,
        "256 connections accepted",
    );
    for _ in 0..10 {
        let mut extra = TcpStream::connect(addr(&server)).unwrap();
        extra
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let (status, out) = read_response(&mut extra);
        assert_eq!(
            (status, out.contains("too many open connections")),
            (503, true),
            "{out}"
        );
    }
    drop(held);
    wait_for(
        || server_fds(&server) <= base + 8,
        "closed connections released by the server",
    );

    // 2000 connections at once: at most 256 are held, the rest are told 503
    // and closed; the server's descriptors stay bounded throughout.
    let mut flood = Vec::new();
    let mut most = 0;
    for _ in 0..2000 {
        flood.push(TcpStream::connect(addr(&server)).unwrap());
        if flood.len() % 100 == 0 {
            most = most.max(server_fds(&server));
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    most = most.max(server_fds(&server));
    assert!(
        most < base + 256 + 32,
        "{most} descriptors open with max_connections = 256 (at rest {base})"
    );
    let mut refused = 0;
    for s in &mut flood {
        s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        let mut buf = [0u8; 64];
        if let Ok(n) = s.read(&mut buf)
            && String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 503")
        {
            refused += 1;
        }
    }
    assert!(
        refused >= 2000 - 256,
        "only {refused} of 2000 connections were told 503"
    );
    drop(flood);
    wait_for(
        || server_fds(&server) <= base + 8,
        "closed connections released by the server",
    );
    assert_serves(&server);
}

#[test]
fn a_client_stalled_mid_body_does_not_hold_up_shutdown() {
    for signal in ["-TERM", "-HUP"] {
        let mut server = server(&format!("stall{}", &signal[1..]));
        let mut s = TcpStream::connect(addr(&server)).unwrap();
        // With a body timeout longer than the drain deadline, only the deadline ends it.
        s.write_all(
            b"POST /v2/models/iris/infer HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n{\"in",
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let t = Instant::now();
        let pid = server.child.id().to_string();
        assert!(
            std::process::Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = server.child.wait().unwrap();
        assert!(status.success(), "{signal}: exit status {status}");
        assert!(
            t.elapsed() < Duration::from_secs(4),
            "{signal}: exit took {:?}",
            t.elapsed()
        );
    }
}

#[test]
fn a_client_that_leaves_is_counted_and_its_request_skipped() {
    let dir = common::workspace("gone", "big", &[256, 1024, 1024, 10]);
    let server = common::start(&dir, "[serve]\naddress = \"127.0.0.1:0\"\n", &[]);
    let body = common::body(512, 256);
    let request = post(
        "/v2/models/big/infer",
        Some("application/json"),
        body.as_bytes(),
    );
    // Several requests queue behind each other; their clients hang up at once.
    for _ in 0..6 {
        let mut s = TcpStream::connect(addr(&server)).unwrap();
        s.write_all(&request).unwrap();
        drop(s);
    }
    let agent = common::agent();
    let t = Instant::now();
    loop {
        let m = common::scrape(&agent, &server.base);
        let gone = common::metric(&m, "batuta_requests_total", &[("outcome", "client_gone")]);
        let depth = common::metric(&m, "batuta_queue_depth", &[]);
        if gone >= 1.0 && depth == 0.0 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no client_gone counted: {m}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_answer_given_before_the_body_is_read_still_reaches_a_client_that_sends_it_all() {
    // ureq, like most clients, writes the whole body before reading. If the
    // server answers early (unknown model, wrong media type, every queue full)
    // and closes with the body unread, the client gets a broken pipe or a
    // reset instead of the answer.
    let server = server("early");
    let agent = common::agent();
    // Just under the 1 MiB limit, far more than the socket buffers hold.
    let body = vec![b' '; 1_000_000];
    for (path, content_type, want) in [
        ("/v2/models/nope/infer", "application/json", 404),
        ("/v2/models/iris/infer", "text/csv", 415),
    ] {
        for _ in 0..5 {
            let resp = agent
                .post(format!("{}{path}", server.base))
                .header("content-type", content_type)
                .send(&body[..])
                .unwrap_or_else(|e| panic!("{path} ({content_type}): no answer: {e}"));
            assert_eq!(resp.status().as_u16(), want, "{path}");
        }
    }
    assert_serves(&server);
}
