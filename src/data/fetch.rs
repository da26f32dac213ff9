//! Downloading the MNIST data set safely.
//!
//! [`fetch_mnist`] makes sure a directory holds the four MNIST files as
//! `{name}.gz`, downloading whichever are missing or invalid from a list of
//! public mirrors, tried in turn.
//!
//! # What is verified, and why
//!
//! A file counts as valid only if it decompresses cleanly and the MD5 of the
//! *decompressed* bytes equals the published sum in [`MNIST_FILES`]. The sum is
//! taken over the decompressed data, not over the `.gz`, because mirrors
//! recompress the files: the same data set arrives as different gzip bytes
//! (other compression level, timestamp or file name in the header) from
//! different mirrors, while the IDX content must be identical bit for bit.
//! Checking the content also catches truncated downloads, HTML error pages
//! served with status 200, and a gzip that is valid but holds the wrong file.
//! MD5 is not used here as a defence against a forger; it is a checksum that
//! every MNIST mirror list publishes.
//!
//! # How a file is written
//!
//! A download is held in memory (at most [`MAX_BODY_BYTES`]) and verified
//! before anything touches the disk. Only then is it written to a temporary
//! file in the target directory, flushed to disk (`fsync`), and renamed over
//! `{name}.gz`. A rename within one directory is atomic, so a reader sees
//! either the old file or the complete new one, never a half-written file, and
//! an interrupted run leaves nothing that later looks valid. On any failure
//! the temporary file is removed.
//!
//! Files already present and valid are kept, so calling [`fetch_mnist`] again
//! downloads nothing.

use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flate2::read::GzDecoder;
use md5::{Digest, Md5};

/// The four MNIST files: (file name without .gz, MD5 of the *decompressed* file).
pub const MNIST_FILES: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte",
        "6bbc9ace898e44ae57da46a324031adb",
    ),
    (
        "train-labels-idx1-ubyte",
        "a25bea736e30d166cdddb491f175f624",
    ),
    ("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
    ("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
];

/// Public mirrors tried in turn; each serves `{mirror}/{name}.gz`.
///
/// The first is the mirror PyTorch's torchvision downloads from, the second
/// the one TensorFlow/Keras datasets used, the last the original site (often
/// down or rate-limited, so it comes last).
pub const DEFAULT_MIRRORS: &[&str] = &[
    "https://ossci-datasets.s3.amazonaws.com/mnist",
    "https://storage.googleapis.com/cvdf-datasets/mnist",
    "https://yann.lecun.com/exdb/mnist",
];

/// Largest response body accepted from a mirror (the biggest MNIST file is
/// about 9.5 MiB compressed, 45 MiB raw).
pub const MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;

/// How long to wait for a TCP (and TLS) connection to a mirror.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a single read or write on an open connection may stall.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// Why fetching or verifying MNIST failed; the message is one line saying
/// what failed and what to do about it.
#[derive(Debug)]
pub struct FetchError(pub String);

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FetchError {}

/// Ensure all four files exist in `dir` as `{name}.gz`, each verified: the gzip decompresses and
/// the decompressed bytes' MD5 equals MNIST_FILES' sum. Files already present and valid are kept
/// (not downloaded again); an invalid existing file is replaced. For a missing/invalid file, try
/// each mirror in order; a mirror that fails (connection error, HTTP status != 200, bad gzip, MD5
/// mismatch, body larger than 64 MiB) is reported through `log` and the next one is tried. The
/// file is written atomically: to a temporary file in `dir`, fsync, then rename; on any failure no
/// partial or temporary file is left behind. Creates `dir` if needed. `log` receives one human
/// line per event ("downloading train-images-idx3-ubyte.gz from https://…", "checksum mismatch
/// from …, trying next mirror", "ok (9.9 MB)"). Returns the first error that made a file
/// impossible to obtain, naming the file and listing every mirror's failure.
pub fn fetch_mnist(
    dir: &Path,
    mirrors: &[String],
    log: &mut dyn FnMut(&str),
) -> Result<(), FetchError> {
    fetch_files(dir, mirrors, &MNIST_FILES, MAX_BODY_BYTES, log)
}

/// True if `path` (a .gz or a raw IDX file) exists and its decompressed content has MD5 `md5_hex`.
///
/// Whether the file is gzipped is decided by its magic bytes (as the loader
/// does), not by its name. A missing file, and a gzip that is corrupt or
/// truncated, give `Ok(false)`; an error reading a file that exists gives
/// `Err`.
pub fn verify_file(path: &Path, md5_hex: &str) -> Result<bool, FetchError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(FetchError(format!(
                "cannot read {}: {e}; check its permissions or delete it",
                path.display()
            )))
        }
    };
    Ok(content_md5(&bytes).is_some_and(|sum| sum.eq_ignore_ascii_case(md5_hex.trim())))
}

/// MD5 (lowercase hex) of the decompressed content of `bytes` (gzip, by magic
/// bytes, else taken as raw); `None` if it looks like gzip but does not decode.
fn content_md5(bytes: &[u8]) -> Option<String> {
    let mut hasher = Md5::new();
    if is_gzip(bytes) {
        // A broken stream shows up as a read error from the decoder; the
        // input is a slice, so no other I/O error can occur.
        io::copy(&mut GzDecoder::new(bytes), &mut hasher).ok()?;
    } else {
        hasher.update(bytes);
    }
    Some(to_hex(&hasher.finalize()))
}

fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Human size in decimal megabytes, e.g. "9.7 MB".
fn human_size(n: usize) -> String {
    if n >= 100_000 {
        format!("{:.1} MB", n as f64 / 1e6)
    } else {
        format!("{:.1} kB", n as f64 / 1e3)
    }
}

/// The work of [`fetch_mnist`], over any file list and body limit (tests use small ones).
fn fetch_files(
    dir: &Path,
    mirrors: &[String],
    files: &[(&str, &str)],
    max_body: u64,
    log: &mut dyn FnMut(&str),
) -> Result<(), FetchError> {
    fs::create_dir_all(dir).map_err(|e| {
        FetchError(format!(
            "cannot create MNIST directory {}: {e}; choose a writable directory",
            dir.display()
        ))
    })?;
    // Built lazily: no TLS setup at all when every file is already present.
    let mut agent: Option<ureq::Agent> = None;
    for &(name, md5_hex) in files {
        let file_name = format!("{name}.gz");
        let target = dir.join(&file_name);
        match verify_file(&target, md5_hex) {
            Ok(true) => {
                log(&format!("{file_name} already present and verified"));
                continue;
            }
            Ok(false) if target.exists() => {
                log(&format!(
                    "{} is corrupt or not the expected file; downloading it again",
                    target.display()
                ));
            }
            Ok(false) => {}
            Err(e) => log(&format!("{e}; downloading it again")),
        }
        if mirrors.is_empty() {
            return Err(FetchError(format!(
                "cannot obtain {file_name}: no mirrors given; pass at least one mirror URL"
            )));
        }
        let agent = agent.get_or_insert_with(build_agent);
        let mut failures = Vec::new();
        let mut done = false;
        for (i, mirror) in mirrors.iter().enumerate() {
            let url = format!("{}/{file_name}", mirror.trim_end_matches('/'));
            log(&format!("downloading {file_name} from {url}"));
            let outcome = download(agent, &url, max_body)
                .and_then(|body| check_body(body, md5_hex))
                .and_then(|body| {
                    write_atomically(dir, &file_name, &body).map_err(MirrorFailure::Write)?;
                    Ok(body.len())
                });
            match outcome {
                Ok(len) => {
                    log(&format!("ok ({})", human_size(len)));
                    done = true;
                    break;
                }
                Err(MirrorFailure::Write(msg)) => {
                    // A local disk problem: another mirror would not help.
                    return Err(FetchError(format!(
                        "cannot save {file_name} into {}: {msg}; check free space and permissions",
                        dir.display()
                    )));
                }
                Err(MirrorFailure::Mirror(msg)) => {
                    let next = if i + 1 < mirrors.len() {
                        "trying next mirror"
                    } else {
                        "no mirrors left"
                    };
                    log(&format!("{msg} from {url}, {next}"));
                    failures.push(format!("{url}: {msg}"));
                }
            }
        }
        if !done {
            return Err(FetchError(format!(
                "cannot obtain {file_name}: every mirror failed ({}); check the network connection, \
                 pass a working mirror, or copy the file into {} by hand",
                failures.join("; "),
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Why one download attempt failed.
enum MirrorFailure {
    /// The mirror's fault (network, status, content): try the next one.
    Mirror(String),
    /// Writing the verified file failed: stop.
    Write(String),
}

fn build_agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(CONNECT_TIMEOUT)
        .timeout_read(IO_TIMEOUT)
        .timeout_write(IO_TIMEOUT)
        .redirects(5)
        .user_agent(concat!("shortcut-mnist-fetch/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// GET `url`, requiring status 200 and a body of at most `max_body` bytes.
fn download(agent: &ureq::Agent, url: &str, max_body: u64) -> Result<Vec<u8>, MirrorFailure> {
    let fail = |msg: String| MirrorFailure::Mirror(one_line(&msg));
    let resp = match agent.get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            return Err(fail(format!("HTTP status {code} {}", r.status_text())))
        }
        Err(ureq::Error::Transport(t)) => {
            let msg = t.to_string();
            let msg = msg
                .strip_prefix(&format!("{url}: "))
                .unwrap_or(&msg)
                .to_string();
            return Err(fail(format!("request failed: {msg}")));
        }
    };
    if resp.status() != 200 {
        return Err(fail(format!(
            "HTTP status {} {} (expected 200)",
            resp.status(),
            resp.status_text()
        )));
    }
    let too_big = || fail(format!("response body larger than {} MiB", max_body >> 20));
    if let Some(len) = resp
        .header("Content-Length")
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        if len > max_body {
            return Err(too_big());
        }
    }
    let mut body = Vec::new();
    resp.into_reader()
        .take(max_body + 1)
        .read_to_end(&mut body)
        .map_err(|e| fail(format!("download interrupted: {e}")))?;
    if body.len() as u64 > max_body {
        return Err(too_big());
    }
    Ok(body)
}

/// Check a downloaded body against `md5_hex`; return the bytes to store.
fn check_body(body: Vec<u8>, md5_hex: &str) -> Result<Vec<u8>, MirrorFailure> {
    if body.is_empty() {
        return Err(MirrorFailure::Mirror("empty response".into()));
    }
    let gzip = is_gzip(&body);
    match content_md5(&body) {
        None => Err(MirrorFailure::Mirror(
            "corrupt gzip data (does not decompress)".into(),
        )),
        Some(sum) if sum.eq_ignore_ascii_case(md5_hex) => {
            if gzip {
                Ok(body)
            } else {
                // Served already decompressed (e.g. transparent transcoding
                // by the server): keep the on-disk format `.gz`.
                gzip_bytes(&body).map_err(|e| {
                    MirrorFailure::Write(format!("cannot compress the downloaded file: {e}"))
                })
            }
        }
        Some(sum) if gzip => Err(MirrorFailure::Mirror(format!(
            "checksum mismatch (MD5 {sum}, expected {md5_hex})"
        ))),
        Some(_) => Err(MirrorFailure::Mirror(
            "not a gzip file, nor the expected raw file".into(),
        )),
    }
}

fn gzip_bytes(raw: &[u8]) -> io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(raw)?;
    enc.finish()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Removes the temporary file on drop unless it was renamed into place.
struct TempGuard {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Write `bytes` to `dir/file_name` via a temporary file, fsync and rename.
fn write_atomically(dir: &Path, file_name: &str, bytes: &[u8]) -> Result<(), String> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{file_name}.part-{}-{n}", std::process::id()));
    let target = dir.join(file_name);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    let mut guard = TempGuard {
        path: tmp,
        armed: true,
    };
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", guard.path.display()))?;
    drop(file);
    fs::rename(&guard.path, &target).map_err(|e| {
        format!(
            "cannot rename {} to {}: {e}",
            guard.path.display(),
            target.display()
        )
    })?;
    guard.armed = false;
    // Make the rename itself durable; best effort (not possible everywhere).
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::BufRead;
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;
    use std::time::Instant;

    fn shared_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist")
    }

    fn shared_file(name: &str) -> Vec<u8> {
        let p = shared_dir().join(format!("{name}.gz"));
        fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
    }

    /// The files a test server serves: URL path (without '/') -> response.
    #[derive(Clone)]
    enum Reply {
        /// 200 with Content-Length.
        Body(Vec<u8>),
        /// 200 without Content-Length, body until the connection closes.
        Unsized(Vec<u8>),
    }

    /// A tiny HTTP/1.1 file server on 127.0.0.1 (loopback only). It handles
    /// at most `max_conns` connections, one request each, and stops by itself
    /// after that or after 30 s.
    struct Server {
        url: String,
        requests: Arc<Mutex<Vec<String>>>,
        handle: Option<JoinHandle<()>>,
    }

    impl Server {
        fn start(files: HashMap<String, Reply>, max_conns: usize) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
            let addr = listener.local_addr().expect("local addr");
            listener.set_nonblocking(true).expect("nonblocking");
            let requests = Arc::new(Mutex::new(Vec::new()));
            let log = Arc::clone(&requests);
            let handle = std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(30);
                let mut handled = 0;
                while handled < max_conns && Instant::now() < deadline {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            handled += 1;
                            let _ = serve(stream, &files, &log);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Err(_) => break,
                    }
                }
            });
            Server {
                url: format!("http://{addr}"),
                requests,
                handle: Some(handle),
            }
        }

        /// Serve the four shared files, optionally with some replaced.
        fn mnist(overrides: &[(&str, Reply)], max_conns: usize) -> Server {
            let mut files: HashMap<String, Reply> = MNIST_FILES
                .iter()
                .map(|(n, _)| (format!("{n}.gz"), Reply::Body(shared_file(n))))
                .collect();
            for (n, r) in overrides {
                files.insert(format!("{n}.gz"), r.clone());
            }
            Server::start(files, max_conns)
        }

        /// This server as the only mirror.
        fn mirrors(&self) -> Vec<String> {
            vec![self.url.clone()]
        }

        fn request_count(&self) -> usize {
            self.requests.lock().expect("lock").len()
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            // Wake the accept loop so the thread ends promptly.
            if let Some(h) = self.handle.take() {
                let addr = self.url.trim_start_matches("http://").to_string();
                let mut n = 0;
                while !h.is_finished() && n < 1000 {
                    let _ = TcpStream::connect(&addr);
                    std::thread::sleep(Duration::from_millis(1));
                    n += 1;
                }
                let _ = h.join();
            }
        }
    }

    fn serve(
        stream: TcpStream,
        files: &HashMap<String, Reply>,
        log: &Mutex<Vec<String>>,
    ) -> io::Result<()> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        let mut reader = io::BufReader::new(stream.try_clone()?);
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
                break;
            }
        }
        let mut parts = request_line.split_whitespace();
        let (method, path) = match (parts.next(), parts.next()) {
            (Some(m), Some(p)) => (m, p),
            _ => return Ok(()), // e.g. the wake-up connection from Drop
        };
        let path = path.trim_start_matches('/');
        log.lock().expect("lock").push(path.to_string());
        let mut out = io::BufWriter::new(stream);
        match files.get(path).filter(|_| method == "GET") {
            Some(Reply::Body(b)) => {
                write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/gzip\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    b.len()
                )?;
                out.write_all(b)?;
            }
            Some(Reply::Unsized(b)) => {
                write!(out, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
                out.write_all(b)?;
            }
            None => {
                let body = b"not found\n";
                write!(
                    out,
                    "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )?;
                out.write_all(body)?;
            }
        }
        out.flush()
    }

    fn collect_log() -> (Arc<Mutex<Vec<String>>>, impl FnMut(&str)) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let l2 = Arc::clone(&lines);
        (lines, move |s: &str| {
            l2.lock().expect("lock").push(s.to_string())
        })
    }

    fn all_verify(dir: &Path) -> bool {
        MNIST_FILES
            .iter()
            .all(|(n, sum)| verify_file(&dir.join(format!("{n}.gz")), sum).expect("verify"))
    }

    /// Files in `dir` other than the finished `{name}.gz` ones.
    fn leftovers(dir: &Path) -> Vec<String> {
        let finished: Vec<String> = MNIST_FILES.iter().map(|(n, _)| format!("{n}.gz")).collect();
        fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| !finished.contains(n))
            .collect()
    }

    /// A valid gzip whose content is not the expected file.
    fn wrong_gzip() -> Vec<u8> {
        gzip_bytes(b"this is not an MNIST file").expect("gzip")
    }

    #[test]
    fn fetches_and_verifies_all_four() {
        let server = Server::mnist(&[], 8);
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("nested/mnist");
        let (lines, mut log) = collect_log();
        fetch_mnist(&dir, &server.mirrors(), &mut log).expect("fetch");
        assert!(all_verify(&dir));
        assert_eq!(server.request_count(), 4);
        assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
        let lines = lines.lock().expect("lock");
        assert!(lines
            .iter()
            .any(|l| l.starts_with("downloading train-images-idx3-ubyte.gz from http://")));
        assert!(lines.iter().any(|l| l == "ok (9.7 MB)"), "{lines:?}");
        // Byte-identical to what was served.
        for (n, _) in MNIST_FILES {
            assert_eq!(
                fs::read(dir.join(format!("{n}.gz"))).expect("read"),
                shared_file(n)
            );
        }
    }

    #[test]
    fn second_call_downloads_nothing() {
        let server = Server::mnist(&[], 8);
        let tmp = tempfile::tempdir().expect("tempdir");
        let mirrors = [server.url.clone()];
        fetch_mnist(tmp.path(), &mirrors, &mut |_| {}).expect("first fetch");
        assert_eq!(server.request_count(), 4);
        let (lines, mut log) = collect_log();
        fetch_mnist(tmp.path(), &mirrors, &mut log).expect("second fetch");
        assert_eq!(server.request_count(), 4);
        let lines = lines.lock().expect("lock");
        assert_eq!(lines.len(), 4);
        assert!(lines
            .iter()
            .all(|l| l.ends_with("already present and verified")));
    }

    #[test]
    fn invalid_existing_file_is_replaced() {
        let tmp = tempfile::tempdir().expect("tempdir");
        for (n, _) in &MNIST_FILES[..3] {
            fs::write(tmp.path().join(format!("{n}.gz")), shared_file(n)).expect("copy");
        }
        let (name, sum) = MNIST_FILES[3];
        let target = tmp.path().join(format!("{name}.gz"));
        fs::write(&target, wrong_gzip()).expect("write");
        let server = Server::mnist(&[], 4);
        fetch_mnist(tmp.path(), &server.mirrors(), &mut |_| {}).expect("fetch");
        assert_eq!(
            *server.requests.lock().expect("lock"),
            vec![format!("{name}.gz")]
        );
        assert!(verify_file(&target, sum).expect("verify"));
    }

    #[test]
    fn bad_first_mirror_falls_back_to_second() {
        let (bad_name, _) = MNIST_FILES[3];
        // A valid gzip holding the wrong content: only the checksum can tell.
        let bad = Server::mnist(&[(bad_name, Reply::Body(wrong_gzip()))], 8);
        let good = Server::mnist(&[], 8);
        let tmp = tempfile::tempdir().expect("tempdir");
        let (lines, mut log) = collect_log();
        fetch_mnist(tmp.path(), &[bad.url.clone(), good.url.clone()], &mut log).expect("fetch");
        assert!(all_verify(tmp.path()));
        assert_eq!(bad.request_count(), 4);
        assert_eq!(
            *good.requests.lock().expect("lock"),
            vec![format!("{bad_name}.gz")]
        );
        let lines = lines.lock().expect("lock");
        let bad_url = format!("{}/{bad_name}.gz", bad.url);
        assert!(
            lines.iter().any(|l| l.contains("checksum mismatch")
                && l.contains(&bad_url)
                && l.contains("trying next mirror")),
            "{lines:?}"
        );
        assert!(leftovers(tmp.path()).is_empty());
    }

    #[test]
    fn only_corrupt_mirror_fails_and_leaves_nothing() {
        let (name, _) = MNIST_FILES[0];
        // Corrupt gzip: real data with bytes flipped in the middle.
        let mut corrupt = shared_file(MNIST_FILES[1].0);
        let mid = corrupt.len() / 2;
        for b in &mut corrupt[mid..mid + 64] {
            *b ^= 0x5a;
        }
        let server = Server::mnist(&[(name, Reply::Body(corrupt))], 8);
        let tmp = tempfile::tempdir().expect("tempdir");
        let (lines, mut log) = collect_log();
        let err = fetch_mnist(tmp.path(), &server.mirrors(), &mut log).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&format!("{name}.gz")), "{msg}");
        assert!(msg.contains("corrupt gzip"), "{msg}");
        assert!(!msg.contains('\n'));
        let entries: Vec<_> = fs::read_dir(tmp.path()).expect("read_dir").collect();
        assert!(entries.is_empty(), "{entries:?}");
        // It stopped at the first file that could not be obtained.
        assert_eq!(server.request_count(), 1);
        assert!(lines
            .lock()
            .expect("lock")
            .iter()
            .any(|l| l.contains("corrupt gzip") && l.contains("no mirrors left")));
    }

    #[test]
    fn checksum_mismatch_only_mirror_leaves_nothing() {
        let (name, _) = MNIST_FILES[3];
        let tmp = tempfile::tempdir().expect("tempdir");
        for (n, _) in &MNIST_FILES[..3] {
            fs::write(tmp.path().join(format!("{n}.gz")), shared_file(n)).expect("copy");
        }
        let server = Server::mnist(&[(name, Reply::Body(wrong_gzip()))], 4);
        let err = fetch_mnist(tmp.path(), &server.mirrors(), &mut |_| {}).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&format!("cannot obtain {name}.gz")), "{msg}");
        assert!(msg.contains("checksum mismatch"), "{msg}");
        assert!(!tmp.path().join(format!("{name}.gz")).exists());
        assert!(
            leftovers(tmp.path()).is_empty(),
            "{:?}",
            leftovers(tmp.path())
        );
    }

    #[test]
    fn missing_and_unreachable_mirrors_are_all_reported() {
        let server = Server::start(HashMap::new(), 4);
        let tmp = tempfile::tempdir().expect("tempdir");
        let mirrors = [server.url.clone(), "http://127.0.0.1:1".to_string()];
        let (lines, mut log) = collect_log();
        let err = fetch_mnist(tmp.path(), &mirrors, &mut log).unwrap_err();
        let msg = err.to_string();
        let name = MNIST_FILES[0].0;
        assert!(msg.contains(&format!("{name}.gz")), "{msg}");
        assert!(
            msg.contains(&format!("{}/{name}.gz: HTTP status 404", server.url)),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("http://127.0.0.1:1/{name}.gz: request failed")),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
        assert_eq!(
            lines.lock().expect("lock").len(),
            4,
            "2 attempts, 2 failures"
        );
        assert!(fs::read_dir(tmp.path()).expect("read_dir").next().is_none());
    }

    #[test]
    fn no_mirrors_is_an_error() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let err = fetch_mnist(tmp.path(), &[], &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("no mirrors"), "{err}");
    }

    #[test]
    fn oversized_bodies_are_refused() {
        let (name, sum) = MNIST_FILES[3];
        let body = shared_file(name);
        let limit = body.len() as u64 - 1;
        let tmp = tempfile::tempdir().expect("tempdir");
        // Refused on Content-Length, and when streaming without it.
        for reply in [Reply::Body(body.clone()), Reply::Unsized(body.clone())] {
            let mut files = HashMap::new();
            files.insert(format!("{name}.gz"), reply);
            let server = Server::start(files, 2);
            let err = fetch_files(
                tmp.path(),
                &server.mirrors(),
                &[(name, sum)],
                limit,
                &mut |_| {},
            )
            .unwrap_err();
            assert!(err.to_string().contains("larger than"), "{err}");
            assert!(fs::read_dir(tmp.path()).expect("read_dir").next().is_none());
        }
        // The same body within the limit, without Content-Length, is fine.
        let mut files = HashMap::new();
        files.insert(format!("{name}.gz"), Reply::Unsized(body));
        let server = Server::start(files, 2);
        fetch_files(
            tmp.path(),
            &server.mirrors(),
            &[(name, sum)],
            limit + 1,
            &mut |_| {},
        )
        .expect("fetch");
        assert!(verify_file(&tmp.path().join(format!("{name}.gz")), sum).expect("verify"));
    }

    #[test]
    fn uncompressed_response_is_stored_gzipped() {
        let (name, sum) = MNIST_FILES[3];
        let mut raw = Vec::new();
        GzDecoder::new(&shared_file(name)[..])
            .read_to_end(&mut raw)
            .expect("gunzip");
        let mut files = HashMap::new();
        files.insert(format!("{name}.gz"), Reply::Body(raw));
        let server = Server::start(files, 2);
        let tmp = tempfile::tempdir().expect("tempdir");
        fetch_files(
            tmp.path(),
            &server.mirrors(),
            &[(name, sum)],
            MAX_BODY_BYTES,
            &mut |_| {},
        )
        .expect("fetch");
        let stored = fs::read(tmp.path().join(format!("{name}.gz"))).expect("read");
        assert!(is_gzip(&stored));
        assert!(verify_file(&tmp.path().join(format!("{name}.gz")), sum).expect("verify"));
    }

    #[test]
    fn verify_file_on_shared_truncated_broken_and_raw() {
        let shared = shared_dir();
        for (n, sum) in MNIST_FILES {
            assert!(
                verify_file(&shared.join(format!("{n}.gz")), sum).expect("verify"),
                "{n}"
            );
        }
        let tmp = tempfile::tempdir().expect("tempdir");
        let (name, sum) = MNIST_FILES[1];
        let good = shared_file(name);
        // Truncated gzip: decompression fails -> Ok(false), not an error.
        let truncated = tmp.path().join("truncated.gz");
        fs::write(&truncated, &good[..good.len() / 2]).expect("write");
        assert!(!verify_file(&truncated, sum).expect("verify truncated"));
        // Broken gzip (bad header after the magic) -> Ok(false).
        let broken = tmp.path().join("broken.gz");
        fs::write(&broken, [0x1f, 0x8b, 0xff, 0xff, 0, 0, 0]).expect("write");
        assert!(!verify_file(&broken, sum).expect("verify broken"));
        // Valid gzip, wrong content -> Ok(false).
        let wrong = tmp.path().join("wrong.gz");
        fs::write(&wrong, wrong_gzip()).expect("write");
        assert!(!verify_file(&wrong, sum).expect("verify wrong"));
        // Missing -> Ok(false).
        assert!(!verify_file(&tmp.path().join("missing.gz"), sum).expect("verify missing"));
        // Raw IDX file -> checked as is; sum case-insensitive.
        let mut raw = Vec::new();
        GzDecoder::new(&good[..])
            .read_to_end(&mut raw)
            .expect("gunzip");
        let raw_path = tmp.path().join(name);
        fs::write(&raw_path, &raw).expect("write");
        assert!(verify_file(&raw_path, sum).expect("verify raw"));
        assert!(verify_file(&raw_path, &sum.to_uppercase()).expect("verify raw upper"));
        assert!(!verify_file(&raw_path, MNIST_FILES[0].1).expect("verify raw other"));
        // A directory cannot be read: a clear error, not a panic.
        let err = verify_file(tmp.path(), sum).unwrap_err();
        assert!(err.to_string().contains("cannot read"), "{err}");
    }
}
