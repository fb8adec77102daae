//! A real TLS server for tests: `openssl s_server -WWW` serving the files of `dir/www` with a
//! self-signed certificate for `localhost` and 127.0.0.1 made by `openssl req -x509`
//! (`dir/cert.pem`, `dir/key.pem`). Shared by the collector's, the applier's and the integration
//! tests (included with `#[path]`). Killed when dropped.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TlsServer {
    child: Child,
    pub port: u16,
}

impl TlsServer {
    /// Writes `files` (name, text) under `dir/www`, makes the certificate and starts serving.
    pub fn start(dir: &Path, files: &[(&str, &str)]) -> Self {
        std::fs::create_dir_all(dir.join("www")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join("www").join(name), text).unwrap();
        }
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem"))
            .output()
            .expect("the openssl command line (Debian package openssl)");
        assert!(made.status.success(), "openssl req: {made:?}");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-WWW", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(dir.join("cert.pem"))
            .arg("-key")
            .arg(dir.join("key.pem"))
            .current_dir(dir.join("www"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server");
        let server = TlsServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// `https://localhost:<port>`.
    pub fn origin(&self) -> String {
        format!("https://localhost:{}", self.port)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
