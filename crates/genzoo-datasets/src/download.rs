//! Verified, resumable downloads over HTTP(S).
//!
//! A file is fetched into `<dest>.part`. If a `.part` is already there the request carries
//! `Range: bytes=N-`; a `206` answer is appended, a `200` answer (a server that ignores ranges) restarts the
//! file from zero. A connection lost mid-body is resumed the same way, a few times per mirror. The finished
//! `.part` is verified and only then renamed over `<dest>` (atomic on one file system), so a failed
//! verification keeps any old good file; the bad `.part` is deleted. Mirrors are tried in order.

#[cfg(feature = "download")]
use std::fs::{self, File, OpenOptions};
#[cfg(feature = "download")]
use std::io::{Read, Write};
use std::path::Path;
#[cfg(feature = "download")]
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// Where and how to download.
#[derive(Clone, Debug)]
pub struct DownloadOptions {
    /// Base URLs tried in order; a file's URL is the base, a `/` if missing, and the file name.
    pub mirrors: Vec<String>,
    /// How many times a dropped connection is resumed on one mirror before moving to the next.
    pub resumes_per_mirror: u32,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Longest wait for any single read.
    pub read_timeout: Duration,
}

impl DownloadOptions {
    /// Options for the given mirrors with default retry and timeouts.
    pub fn new(mirrors: Vec<String>) -> Self {
        Self {
            mirrors,
            resumes_per_mirror: 3,
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// Outcome of one HTTP exchange into the `.part` file.
#[cfg(feature = "download")]
enum Fetch {
    /// The body arrived whole; `resumed` says whether it was appended to an earlier partial file.
    Done { resumed: bool },
    /// The connection failed or dropped: worth resuming.
    Retry(String),
    /// Not worth retrying on this mirror.
    Fatal(String),
}

#[cfg(feature = "download")]
fn part_path(dest: &Path) -> PathBuf {
    let mut p = dest.as_os_str().to_owned();
    p.push(".part");
    PathBuf::from(p)
}

#[cfg(feature = "download")]
fn join_url(base: &str, name: &str) -> String {
    if base.ends_with('/') {
        format!("{base}{name}")
    } else {
        format!("{base}/{name}")
    }
}

/// Without the `download` feature there is no HTTP client: a missing file is an error that says so.
#[cfg(not(feature = "download"))]
pub(crate) fn download(
    _opts: &DownloadOptions,
    name: &str,
    dest: &Path,
    _max_bytes: u64,
    _verify: &dyn Fn(&Path) -> Result<()>,
) -> Result<()> {
    Err(Error::Download {
        file: dest.display().to_string(),
        attempts: vec![format!(
            "{name}: this build of genzoo-datasets has no `download` feature; put the file there by hand"
        )],
    })
}

/// Downloads `name` from the mirrors to `dest`, accepting it only if `verify(part_path)` succeeds.
/// `max_bytes` bounds the body size.
#[cfg(feature = "download")]
pub(crate) fn download(
    opts: &DownloadOptions,
    name: &str,
    dest: &Path,
    max_bytes: u64,
    verify: &dyn Fn(&Path) -> Result<()>,
) -> Result<()> {
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let part = part_path(dest);
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(opts.connect_timeout))
        .timeout_per_read(Some(opts.read_timeout))
        .user_agent(concat!("genzoo-datasets/", env!("CARGO_PKG_VERSION")))
        .build();
    let agent: ureq::Agent = config.into();
    let mut attempts = Vec::new();
    for base in &opts.mirrors {
        let url = join_url(base, name);
        let mut resumes = 0;
        let mut restarted_after_bad_resume = false;
        loop {
            match fetch_once(&agent, &url, &part, max_bytes) {
                Fetch::Done { resumed } => match verify(&part) {
                    Ok(()) => {
                        fs::rename(&part, dest).map_err(|e| Error::io(dest, e))?;
                        return Ok(());
                    }
                    Err(e) => {
                        remove_quietly(&part);
                        // A resumed file may have been spliced onto a stale prefix: try once from zero.
                        if resumed && !restarted_after_bad_resume {
                            restarted_after_bad_resume = true;
                            continue;
                        }
                        attempts.push(format!("{url}: {e}"));
                        break;
                    }
                },
                Fetch::Retry(_) if resumes < opts.resumes_per_mirror => resumes += 1,
                Fetch::Retry(msg) | Fetch::Fatal(msg) => {
                    attempts.push(format!("{url}: {msg}"));
                    break;
                }
            }
        }
    }
    if opts.mirrors.is_empty() {
        attempts.push("no mirror configured".into());
    }
    Err(Error::Download {
        file: dest.display().to_string(),
        attempts,
    })
}

#[cfg(feature = "download")]
fn remove_quietly(path: &Path) {
    // The file may legitimately not exist; any other failure leaves a stale .part, which is only
    // ever resumed and re-verified, never trusted.
    let _ = fs::remove_file(path);
}

#[cfg(feature = "download")]
fn fetch_once(agent: &ureq::Agent, url: &str, part: &Path, max_bytes: u64) -> Fetch {
    let mut offset = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    if offset > max_bytes {
        remove_quietly(part);
        offset = 0;
    }
    let mut req = agent.get(url);
    if offset > 0 {
        req = req.header("Range", format!("bytes={offset}-"));
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(
            e @ (ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::Protocol(_)
            | ureq::Error::ConnectionFailed),
        ) => {
            return Fetch::Retry(e.to_string());
        }
        Err(e) => return Fetch::Fatal(e.to_string()),
    };
    let status = resp.status().as_u16();
    let (append, resumed) = match status {
        206 => {
            let range = resp
                .headers()
                .get("content-range")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let start = range
                .strip_prefix("bytes ")
                .and_then(|r| r.split('-').next())
                .and_then(|s| s.trim().parse::<u64>().ok());
            if start != Some(offset) {
                // Not the range we asked for: start over rather than splice wrong bytes.
                remove_quietly(part);
                return Fetch::Retry(format!(
                    "HTTP 206 with Content-Range {range:?}, expected bytes {offset}-"
                ));
            }
            (true, offset > 0)
        }
        200 => (false, false),
        // Our range starts at the end: the .part is presumably complete; verification decides.
        416 if offset > 0 => return Fetch::Done { resumed: true },
        _ => return Fetch::Fatal(format!("HTTP {status}")),
    };
    let file = if append {
        OpenOptions::new().append(true).open(part)
    } else {
        File::create(part)
    };
    let mut file = match file {
        Ok(f) => f,
        Err(e) => return Fetch::Fatal(format!("cannot write {}: {e}", part.display())),
    };
    let mut written = if append { offset } else { 0 };
    let mut body = resp.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                written += n as u64;
                if written > max_bytes {
                    drop(file);
                    remove_quietly(part);
                    return Fetch::Fatal(format!(
                        "body exceeds {max_bytes} bytes, larger than any valid file"
                    ));
                }
                if let Err(e) = file.write_all(&buf[..n]) {
                    return Fetch::Fatal(format!("cannot write {}: {e}", part.display()));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = file.flush();
                return Fetch::Retry(format!("connection lost after {written} bytes: {e}"));
            }
        }
    }
    if let Err(e) = file.sync_all() {
        return Fetch::Fatal(format!("cannot write {}: {e}", part.display()));
    }
    Fetch::Done { resumed }
}

#[cfg(all(test, feature = "download"))]
pub(crate) mod test_server {
    //! A tiny HTTP/1.1 file server on 127.0.0.1 with scripted misbehaviour, for download tests.

    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};
    use std::thread;

    /// How the server treats a request.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub enum Mode {
        /// Honour `Range` with 206.
        Normal,
        /// Always answer 200 with the full body.
        IgnoreRange,
        /// Drop the connection after this many body bytes on the first request, then behave normally.
        DropFirstAfter(usize),
    }

    /// A running server; `base` is its URL, `log` the `Range` header of each request ("" when none).
    pub struct Server {
        pub base: String,
        pub log: Arc<Mutex<Vec<String>>>,
    }

    pub fn start(files: HashMap<String, Vec<u8>>, mode: Mode) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let base = format!("http://{}/", listener.local_addr().expect("local addr"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = Arc::clone(&log);
        thread::spawn(move || {
            let mut first = true;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .trim_start_matches('/')
                    .to_string();
                let mut range = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':')
                        && k.eq_ignore_ascii_case("range")
                    {
                        range = v.trim().to_string();
                    }
                }
                log2.lock().expect("log lock").push(range.clone());
                let Some(body) = files.get(&path) else {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    continue;
                };
                let start = range
                    .strip_prefix("bytes=")
                    .and_then(|r| r.strip_suffix('-'))
                    .and_then(|s| s.parse::<usize>().ok())
                    .filter(|_| mode != Mode::IgnoreRange);
                let (status, slice, extra) = match start {
                    Some(s) if s >= body.len() => {
                        let h = format!(
                            "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(h.as_bytes());
                        continue;
                    }
                    Some(s) => (
                        "206 Partial Content",
                        &body[s..],
                        format!(
                            "Content-Range: bytes {s}-{}/{}\r\n",
                            body.len() - 1,
                            body.len()
                        ),
                    ),
                    None => ("200 OK", &body[..], String::new()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
                    slice.len()
                );
                let _ = stream.write_all(head.as_bytes());
                match mode {
                    Mode::DropFirstAfter(n) if first => {
                        let _ = stream.write_all(&slice[..n.min(slice.len())]);
                    }
                    _ => {
                        let _ = stream.write_all(slice);
                    }
                }
                first = false;
                let _ = stream.flush();
                // Dropping the stream closes the connection.
            }
        });
        Server { base, log }
    }
}

#[cfg(all(test, feature = "download"))]
mod tests {
    use super::test_server::{Mode, start};
    use super::*;
    use std::collections::HashMap;

    fn body() -> Vec<u8> {
        (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect()
    }

    fn verify_equals(want: Vec<u8>) -> impl Fn(&Path) -> Result<()> {
        move |p: &Path| {
            let got = fs::read(p).map_err(|e| Error::io(p, e))?;
            crate::verify::check_sha256(
                &p.display().to_string(),
                &got,
                &crate::verify::sha256_hex(&want),
            )
        }
    }

    fn serve(mode: Mode, data: Vec<u8>) -> test_server::Server {
        start(HashMap::from([("f.bin".to_string(), data)]), mode)
    }

    /// Downloads `f.bin` from one test server, expecting the bytes of [`body`].
    fn fetch_from(s: &test_server::Server, dest: &Path) -> Result<()> {
        download(
            &DownloadOptions::new(vec![s.base.clone()]),
            "f.bin",
            dest,
            1 << 20,
            &verify_equals(body()),
        )
    }

    #[test]
    fn normal_download() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("sub/f.bin");
        let s = serve(Mode::Normal, body());
        fetch_from(&s, &dest).expect("download");
        assert_eq!(fs::read(&dest).expect("read"), body());
        assert!(!part_path(&dest).exists());
        assert_eq!(*s.log.lock().expect("log"), [""]);
    }

    /// A download over a part file holding `part`, from a server in `mode`: the file comes out
    /// whole; → the `Range` headers the server saw.
    fn download_over_part(part: &[u8], mode: Mode) -> Vec<String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("f.bin");
        fs::write(part_path(&dest), part).expect("write part");
        let s = serve(mode, body());
        fetch_from(&s, &dest).expect("download");
        assert_eq!(fs::read(&dest).expect("read"), body());
        s.log.lock().expect("log").clone()
    }

    #[test]
    fn resumes_a_partial_part_with_range() {
        let log = download_over_part(&body()[..12_345], Mode::Normal);
        assert_eq!(log, ["bytes=12345-"]);
    }

    #[test]
    fn server_ignoring_range_restarts_from_zero() {
        // A stale, wrong prefix: appending to it would corrupt the file.
        let log = download_over_part(&[0xAA; 5000], Mode::IgnoreRange);
        assert_eq!(log, ["bytes=5000-"]);
    }

    #[test]
    fn corrupt_body_keeps_old_file_and_names_both_hashes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("f.bin");
        fs::write(&dest, body()).expect("old good file");
        let mut bad = body();
        bad[777] ^= 1;
        let s = serve(Mode::Normal, bad.clone());
        let err = fetch_from(&s, &dest).expect_err("corrupt");
        let msg = err.to_string();
        assert!(msg.contains("SHA-256 mismatch"), "{msg}");
        assert!(msg.contains(&crate::verify::sha256_hex(&body())), "{msg}");
        assert!(msg.contains(&crate::verify::sha256_hex(&bad)), "{msg}");
        assert!(msg.contains(&s.base), "{msg}");
        assert_eq!(fs::read(&dest).expect("read"), body());
        assert!(!part_path(&dest).exists());
    }

    #[test]
    fn dropped_connection_is_resumed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("f.bin");
        let s = serve(Mode::DropFirstAfter(70_000), body());
        fetch_from(&s, &dest).expect("download");
        assert_eq!(fs::read(&dest).expect("read"), body());
        let log = s.log.lock().expect("log").clone();
        assert_eq!(log.len(), 2, "{log:?}");
        assert!(
            log[1].starts_with("bytes=") && log[1] != "bytes=0-",
            "{log:?}"
        );
    }

    #[test]
    fn mirrors_are_tried_in_order_and_oversize_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("f.bin");
        let empty = start(HashMap::new(), Mode::Normal); // 404 for everything
        let good = serve(Mode::Normal, body());
        let opts = DownloadOptions::new(vec![empty.base.clone(), good.base.clone()]);
        download(&opts, "f.bin", &dest, 1 << 20, &verify_equals(body())).expect("second mirror");
        assert_eq!(fs::read(&dest).expect("read"), body());

        let dest2 = dir.path().join("g.bin");
        let err = download(
            &DownloadOptions::new(vec![good.base.clone()]),
            "f.bin",
            &dest2,
            1000,
            &verify_equals(body()),
        )
        .expect_err("too big");
        assert!(err.to_string().contains("exceeds 1000 bytes"), "{err}");
        assert!(!dest2.exists() && !part_path(&dest2).exists());
    }
}
