//! A throwaway PostgreSQL server for the tests: `DATABASE_URL` when set, otherwise a server
//! started from the binaries on the machine (`initdb` + `pg_ctl`) in a temporary directory
//! on a free port of 127.0.0.1, stopped when the test binary exits.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const INSTALL_HINT: &str = "the PostgreSQL tests need a server: install the PostgreSQL server \
     binaries (Debian: `apt-get install postgresql`, which provides initdb and pg_ctl) or set \
     DATABASE_URL to a database the tests may create tables and databases in";

/// A PostgreSQL server this process started, in a temporary data directory.
#[derive(Debug)]
pub struct PgServer {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres_user: bool,
}

impl PgServer {
    /// Starts a new server. Panics, saying what to install, when the binaries are missing.
    pub fn start() -> Self {
        let bin = find_bin_dir().unwrap_or_else(|| panic!("{INSTALL_HINT}"));
        let as_postgres_user = running_as_root();
        // Removed on drop until the watchdog takes over, so a failed start leaves nothing.
        let temp = tempfile::Builder::new()
            .prefix("webhook-kit-pg-")
            .tempdir()
            .expect("temporary directory");
        if as_postgres_user {
            // initdb refuses to run as root; the server runs as the `postgres` user.
            run(
                Command::new("chown").arg("postgres:").arg(temp.path()),
                "chown",
            );
        }
        let server = Self {
            bin,
            port: free_port(),
            dir: temp.path().to_path_buf(),
            as_postgres_user,
        };
        let data = server.data_dir();
        run(
            server
                .command("initdb")
                .args([
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "-D",
                ])
                .arg(&data),
            "initdb",
        );
        server.watch_parent();
        let _ = temp.keep();
        server.start_again();
        server
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres_user {
            let mut command = Command::new(runuser());
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.stdin(Stdio::null());
        command
    }

    /// Starts the server (again) on the same port and data directory.
    pub fn start_again(&self) {
        let options = format!(
            "-c port={} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c fsync=off -c full_page_writes=off -c max_connections=200 \
             -c shared_preload_libraries=pg_stat_statements",
            self.port,
            self.dir.display()
        );
        run(
            self.command("pg_ctl")
                .args(["start", "-w", "-t", "60", "-D"])
                .arg(self.data_dir())
                .arg("-l")
                .arg(self.dir.join("server.log"))
                .args(["-o", &options]),
            "pg_ctl start",
        );
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`).
    pub fn stop(&self) {
        run(
            self.command("pg_ctl")
                .args(["stop", "-w", "-m", "immediate", "-D"])
                .arg(self.data_dir()),
            "pg_ctl stop",
        );
    }

    /// The URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A URL on which nothing listens (the port of this server while it is stopped).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server and removes its directory once this test process has exited,
    /// however it exits: a watchdog child waits for the parent to die.
    fn watch_parent(&self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = if self.as_postgres_user {
            format!(
                "{} -u postgres -- {} stop -m immediate -D {}",
                runuser().display(),
                pg_ctl.display(),
                self.data_dir().display()
            )
        } else {
            format!(
                "{} stop -m immediate -D {}",
                pg_ctl.display(),
                self.data_dir().display()
            )
        };
        let script = format!(
            "while kill -0 {parent} 2>/dev/null; do sleep 0.2; done; {stop} >/dev/null 2>&1; \
             rm -rf {dir}",
            parent = std::process::id(),
            dir = self.dir.display(),
        );
        // Deliberately not waited for: it outlives this process to clean up after it.
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the server's watchdog");
    }
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{what}: {error}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `runuser`, which lives in an `sbin` directory that a reduced PATH may lack.
fn runuser() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("runuser"))
            .find(|candidate| candidate.is_file())
    });
    on_path
        .or_else(|| {
            ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
                .into_iter()
                .map(PathBuf::from)
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| panic!("running as root needs `runuser` (util-linux) to start PostgreSQL as the `postgres` user"))
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// `initdb` and `pg_ctl` on PATH, or in Debian's versioned directory (newest first).
fn find_bin_dir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH")
        && let Some(dir) = std::env::split_paths(&path).find(|dir| has_tools(dir))
    {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_tools(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The database the tests of this binary share: `DATABASE_URL`, or the `postgres` database
/// of a server started once for this test binary.
pub fn shared_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            static SERVER: OnceLock<PgServer> = OnceLock::new();
            SERVER.get_or_init(PgServer::start).url("postgres")
        }
    })
}

/// A new, empty database on the shared server, for tests that need a schema of their own.
pub async fn fresh_database() -> String {
    use sqlx::Connection as _;
    let shared = shared_url();
    // Unique across runs and the test binaries sharing a server: the time, the process id
    // and a counter. No crate path, so that the crate's own unit tests can include this
    // file too.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let name = format!(
        "webhook_kit_{nanos}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut connection = sqlx::PgConnection::connect(shared)
        .await
        .expect("connect to the test server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .expect("create a test database");
    let mut url = url::Url::parse(shared).expect("DATABASE_URL is a URL");
    url.set_path(&name);
    url.into()
}
